import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { DevStackError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { badRequest, RegistryError } from './errors.js';
import { readJsonBody, sendError, sendJson, sendJsonText } from './http-io.js';
import { openFileLog, openMemoryLog } from './registry-log.js';
import { matchRoute } from './routes.js';
import { RegistryStore } from './store.js';

/** Options of {@link startSchemaRegistry}. */
export interface SchemaRegistryOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Default 8081 (Confluent's); 0 picks a free port. */
  port?: number;
  /** Directory for the registry log; undefined keeps everything in memory. */
  dataDir?: string;
  logger?: Logger;
  /** Largest accepted request body; default 4 MiB. */
  maxBodyBytes?: number;
}

/** A running registry. */
export interface SchemaRegistryHandle {
  /** Base URL for clients, e.g. `http://127.0.0.1:8081`. */
  url: string;
  host: string;
  port: number;
  /** Stop listening, drop open connections and close the data file. */
  close(): Promise<void>;
}

const optionsShape = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(8081),
  dataDir: z.string().min(1).optional(),
  maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
});

/**
 * Start a Confluent-compatible Schema Registry (AVRO only) for development and tests: the endpoints
 * the kafkajs registry client and the usual tooling call, with real Avro compatibility checks and,
 * given a `dataDir`, ids, versions and configs that survive a restart. Not for production: a single
 * process owns its data directory.
 */
export async function startSchemaRegistry(options: SchemaRegistryOptions = {}): Promise<SchemaRegistryHandle> {
  const parsed = optionsShape.safeParse({ ...options, logger: undefined });
  if (!parsed.success) {
    throw new DevStackError(`schema registry options: ${z.prettifyError(parsed.error)}`);
  }
  const { host, port, dataDir, maxBodyBytes } = parsed.data;
  const logger = (options.logger ?? silentLogger).child({ component: 'schema-registry' });

  const store = new RegistryStore(dataDir === undefined ? openMemoryLog() : openFileLog(dataDir));
  const server = createServer((req, res) => {
    handleRequest(req, res, store, maxBodyBytes, logger).catch((err: unknown) => {
      // handleRequest answers every error itself; reaching here means the socket is already gone.
      logger.warn({ err }, 'schema registry request failed after the response started');
    });
  });
  server.on('clientError', (err, socket) => {
    // Unparseable HTTP: answer 400 if we still can, never let it reach the process.
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
    logger.debug({ err }, 'schema registry client error');
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    store.close();
    throw new DevStackError(`schema registry cannot listen on ${host}:${port}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  server.on('error', (err) => logger.error({ err }, 'schema registry server error'));

  const boundPort = (server.address() as AddressInfo).port;
  // Bound to every interface: hand clients the loopback address, which always reaches it.
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const url = `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${boundPort}`;
  logger.info({ url, dataDir: dataDir ?? null }, 'schema registry listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port: boundPort,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).finally(() => store.close());
      return closing;
    },
  };
}

async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  store: RegistryStore,
  maxBodyBytes: number,
  logger: Logger,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://registry.invalid');
    const match = matchRoute(req.method ?? 'GET', pathSegments(url.pathname));
    if (match === undefined) throw new RegistryError(404, 404, 'HTTP 404 Not Found');
    if ('allowed' in match) {
      res.setHeader('allow', match.allowed.join(', '));
      throw new RegistryError(405, 405, 'HTTP 405 Method Not Allowed');
    }
    const body = match.route.hasBody ? await readJsonBody(req, maxBodyBytes) : undefined;
    const result = match.route.handle({ store, params: match.params, query: url.searchParams, body });
    if ('raw' in result) sendJsonText(res, 200, result.raw);
    else sendJson(res, 200, result.body);
    logger.debug({ method: req.method, path: url.pathname, status: res.statusCode }, 'schema registry request');
  } catch (err) {
    if (err instanceof RegistryError) {
      if (err.errorCode === 50001) logger.error({ err: err.cause }, 'schema registry store write failed');
      sendError(res, err);
      logger.debug({ method: req.method, url: req.url, status: err.status, errorCode: err.errorCode }, 'schema registry error');
    } else {
      logger.error({ err, method: req.method, url: req.url }, 'schema registry internal error');
      sendError(res, new RegistryError(500, 500, 'Internal Server Error'));
    }
  }
}

/** `/subjects/a%2Fb/versions` → ['subjects', 'a/b', 'versions']; a trailing slash is ignored. */
function pathSegments(pathname: string): string[] {
  const parts = pathname.split('/').filter((s, i, all) => s !== '' || (i > 0 && i < all.length - 1));
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    throw badRequest(`Malformed URL encoding in path: ${pathname}`);
  }
}
