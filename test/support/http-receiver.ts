import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, beforeEach } from 'vitest';

export interface ReceivedRequest {
  readonly method: string;
  /** Path and query, as the client sent them. */
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** How the receiver answers: a status, or never (the socket stays open until close). */
export type Answer = number | 'hang';

export interface HttpReceiver {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly requests: ReceivedRequest[];
  /**
   * Changes the answers from the next request on: each request takes the next of them, and the
   * last stays for every request after. `answer(503, 200)`: one failure, then success, whatever
   * the timing.
   */
  answer(...answers: [Answer, ...Answer[]]): void;
  close(): Promise<void>;
}

/**
 * A real HTTP server on a loopback port that records every request, for the pings and webhooks
 * the sidecar sends: what a dead-man's-switch service or a chat would receive.
 */
export async function startHttpReceiver(initial: Answer = 200): Promise<HttpReceiver> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  let queued: Answer[] = [initial];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ method: request.method ?? '', url: request.url ?? '', contentType: request.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      const current = queued.length > 1 ? (queued.shift() as Answer) : (queued[0] as Answer);
      if (current === 'hang') return;
      response.writeHead(current, { 'content-type': 'text/plain' }).end(current < 400 ? 'OK' : 'no');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    answer(...answers) {
      queued = [...answers];
    },
    async close() {
      // A hanging request's socket would keep close() waiting for ever.
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fresh receiver for each test of the calling file, closed after it (as useBackupServer gives a server). */
export function useHttpReceiver(): Omit<HttpReceiver, 'close'> {
  let current: HttpReceiver | undefined;
  beforeEach(async () => {
    current = await startHttpReceiver();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  const now = () => {
    if (!current) throw new Error('useHttpReceiver: the receiver exists only while a test runs');
    return current;
  };
  return {
    get origin() {
      return now().origin;
    },
    get requests() {
      return now().requests;
    },
    answer: (...answers) => now().answer(...answers),
  };
}
