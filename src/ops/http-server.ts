import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import type { Health } from './health.js';
import type { Metrics } from './metrics.js';
import type { StatusProvider } from './status.js';
import { renderStatusPage } from './status-page.js';

/** 9464: the port the OpenTelemetry Prometheus exporter uses by default, so scrape configs look familiar. */
export const DEFAULT_OPS_PORT = 9464;

export interface OpsServerOptions {
  /** Default 9464; 0 picks a free port (tests). */
  port?: number;
  /** Default 0.0.0.0, so Prometheus and the kubelet can reach it. */
  host?: string;
  metrics: Pick<Metrics, 'registry'>;
  health: Health;
  status: StatusProvider;
  logger: Logger;
}

export interface OpsServer {
  /** The bound port (useful with port 0). */
  port: number;
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

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_OPS_PORT, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port }, 'ops server listening (/metrics /healthz /readyz /)');

  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
