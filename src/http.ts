import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from './errors.js';

export interface HttpRoutes {
  /** /metrics: Prometheus text format. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** /health: JSON, 200 when a good backup is recent, 503 otherwise. */
  health(): Promise<{ healthy: boolean; body: object }>;
}

/** The paths served; anything else is 404. */
export const ROUTES = ['/metrics', '/healthz', '/health'] as const;

export interface HttpServer {
  readonly address: string;
  close(): Promise<void>;
}

/**
 * /metrics, /healthz (the process answers) and /health (a good backup is recent). Read-only:
 * GET and HEAD only (405 otherwise), unknown paths 404, no endpoint changes state.
 */
export async function startHttpServer(host: string, port: number, routes: HttpRoutes): Promise<HttpServer> {
  const server = createServer((request, response) => {
    handle(request, response, routes).catch((error: unknown) => {
      if (!response.headersSent) send(response, request, 500, 'text/plain; charset=utf-8', `${(error as Error).message}\n`);
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new UserError(`cannot listen on HTTP_HOST=${host} HTTP_PORT=${port}: ${error.code ?? error.message}`, {
          hint: error.code === 'EADDRINUSE' ? 'Another process uses that port; choose another HTTP_PORT.' : undefined,
          exitCode: 2,
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, routes: HttpRoutes): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://sidecar').pathname;
  if (!(ROUTES as readonly string[]).includes(path)) {
    return send(response, request, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /health or /healthz\n');
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return send(response, request, 405, 'text/plain; charset=utf-8', 'only GET and HEAD\n');
  }
  switch (path) {
    case '/metrics': {
      const { contentType, body } = await routes.metrics();
      return send(response, request, 200, contentType, body);
    }
    case '/healthz':
      return send(response, request, 200, 'text/plain; charset=utf-8', 'ok\n');
    default: {
      const { healthy, body } = await routes.health();
      return send(response, request, healthy ? 200 : 503, 'application/json', `${JSON.stringify(body, null, 2)}\n`);
    }
  }
}

function send(response: ServerResponse, request: IncomingMessage, status: number, contentType: string, body: string): void {
  response.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}
