#!/usr/bin/env node
// Fails fast, naming the exact package to install, before a command would fail obscurely.
import { spawnSync } from 'node:child_process';

const purpose = process.argv[2] ?? 'test';
const problems = [];

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 9)) {
  problems.push(`Node.js ${process.versions.node} is too old: install Node.js 20 (>= 20.9), e.g. from https://nodejs.org or your distribution.`);
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const needRedis = purpose !== 'demo' || !process.env.PYRAMID_REDIS_URL;
if (needRedis && !onPath('redis-server')) {
  problems.push('redis-server is not on PATH: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis).');
}
if (purpose === 'test' && !onPath('kcat')) {
  problems.push('kcat is not on PATH (the wire-protocol tests use it as an independent Kafka client): install it (Debian/Ubuntu: sudo apt-get install kcat; macOS: brew install kcat).');
}

if (purpose === 'test' && !onPath('chromium')) {
  problems.push('chromium is not on PATH (the status-page test drives it headless through playwright-core): install it (Debian/Ubuntu: sudo apt-get install chromium).');
}

if (purpose === 'test' && !(onPath('prometheus') && onPath('promtool'))) {
  problems.push('prometheus/promtool are not on PATH (the alert-rule and dashboard tests run a real Prometheus): install them (Debian/Ubuntu: sudo apt-get install prometheus).');
}
if (purpose === 'test' && !onPath('Burrow')) {
  problems.push('Burrow is not on PATH (the lag test compares pyramid with Burrow): install it (Debian/Ubuntu: sudo apt-get install burrow).');
}
// Burrow 1.2 keeps its own state in ZooKeeper; Debian's zookeeper package has the server jar.
if (purpose === 'test' && spawnSync('test', ['-r', '/usr/share/java/zookeeper.jar']).status !== 0) {
  problems.push('the ZooKeeper server jar is missing (Burrow needs a ZooKeeper for its own state): install it (Debian/Ubuntu: sudo apt-get install zookeeper).');
}

if (problems.length > 0) {
  console.error(`pyramid ${purpose}: missing prerequisites\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
