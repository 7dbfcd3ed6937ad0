import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A JSON API error: the status and the message the server answers with. */
export class HttpApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** OpenAI-style error type (the OpenAI server reports it). */
    readonly type = 'invalid_request_error',
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** Answers with a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/**
 * Reads a JSON request body of at most `limit` bytes (a declared or actual
 * larger body is a 413 before it is buffered); a body that is not JSON is a
 * 400 with `notJson` as the message.
 */
export async function readJsonBody(req: IncomingMessage, limit: number, notJson = 'request body is not valid JSON', tooLarge = 'send a smaller request'): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw new HttpApiError(413, `request body of ${declared} bytes is over the ${limit}-byte limit; ${tooLarge}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpApiError(413, `request body over the ${limit}-byte limit; ${tooLarge}`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpApiError(400, notJson);
  }
}

/** Listens on host:port (0 picks a free port); resolves to the base URL and port. */
export async function listen(server: Server, port: number, host: string): Promise<{ base: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host !== '0.0.0.0' && host !== '::' ? host : '127.0.0.1';
  return { base: `http://${shown.includes(':') ? `[${shown}]` : shown}:${bound}`, port: bound };
}

/** Closes a server and its open connections. */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}
