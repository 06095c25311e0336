import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PyramidError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Health } from './health.js';
import type { Metrics } from './metrics.js';
import type { StatusProvider } from './status.js';
import { renderStatusPage } from './status-page/render.js';

/** 9464: the port the OpenTelemetry Prometheus exporter uses by default, so scrape configs look familiar. */
export const DEFAULT_OPS_PORT = 9464;

/**
 * Loopback: the status page and /metrics show customer counts and revenue per tier, so listening
 * on other interfaces is a deployment decision (containers pass 0.0.0.0), not a default.
 */
export const DEFAULT_OPS_HOST = '127.0.0.1';

/** Words for the listen errors an operator meets; anything else keeps Node's own message. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name not resolvable now',
};

/**
 * Why the server could not listen, as one sentence. `details.errno` keeps Node's code so callers
 * can tell which setting to name (the port for EADDRINUSE/EACCES, the host for the others).
 */
function listenError(host: string, port: number, err: NodeJS.ErrnoException): PyramidError {
  const reason = (err.code !== undefined ? LISTEN_ERRORS[err.code] : undefined) ?? err.message;
  return new PyramidError('HTTP_LISTEN_FAILED', `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${reason}`, {
    cause: err,
    details: { errno: err.code, host, port },
  });
}

export interface OpsServerOptions {
  /** Default 9464; 0 picks a free port (tests). */
  port?: number;
  /** Default {@link DEFAULT_OPS_HOST} (loopback); 0.0.0.0 lets Prometheus and the kubelet reach it. */
  host?: string;
  metrics: Pick<Metrics, 'registry'>;
  health: Health;
  status: StatusProvider;
  logger: Logger;
}

export interface OpsServer {
  /** The bound port (useful with port 0). */
  port: number;
  /** The bound address, as the socket reports it (`127.0.0.1`, `0.0.0.0`, `::`). */
  host: string;
  /** Stop listening and drop open keep-alive connections (the status page polls every second). */
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * The operator surface of one scorer: `/metrics`, `/healthz`, `/readyz`, `/` (status page) and
 * `/status.json` (its data). Plain node:http, GET and HEAD only.
 * @throws PyramidError `HTTP_LISTEN_FAILED` (`cannot listen on 127.0.0.1:9464: address already in use`).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const page = renderStatusPage();
  const { registry } = options.metrics;

  const routes: Record<string, (res: ServerResponse) => Promise<void> | void> = {
    '/': (res) => {
      res.writeHead(200, page.headers);
      res.end(page.body);
    },
    '/metrics': async (res) => {
      // Readiness is evaluated for the scrape itself, so pyramid_ready is what /readyz answers
      // now, also where nothing else probes /readyz (the probes are bounded by their timeout).
      await options.health.ready();
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
    },
    '/healthz': (res) => sendJson(res, 200, options.health.live()),
    '/readyz': async (res) => {
      const { ok, body } = await options.health.ready();
      sendJson(res, ok ? 200 : 503, body);
    },
    '/status.json': async (res) => sendJson(res, 200, await options.status.snapshot()),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://ops.invalid').pathname;
    const route = routes[path];
    if (!route) return sendJson(res, 404, { error: 'not found', paths: Object.keys(routes) });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed' });
    }
    await route(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.logger.error({ err, url: req.url }, 'ops endpoint failed');
      if (!res.headersSent) sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  });

  const host = options.host ?? DEFAULT_OPS_HOST;
  const wantedPort = options.port ?? DEFAULT_OPS_PORT;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(listenError(host, wantedPort, err));
    server.once('error', onError);
    server.listen(wantedPort, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port, address } = server.address() as AddressInfo;
  options.logger.info({ host: address, port }, 'ops server listening (/metrics /healthz /readyz /)');

  return {
    port,
    host: address,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
