import { request } from 'node:http';
import { connect } from 'node:net';
import { apiUrl } from './client.js';

export interface RawResponse {
  status: number;
  /** Lower-cased header names; a repeated header keeps its last value. */
  headers: Map<string, string>;
  text: string;
  body: any;
}

/**
 * Sends bytes exactly as given over one TCP connection to the API under test and reads the
 * answer until the server closes it: for requests no HTTP client library will send (header
 * names such as `__proto__`, NUL bytes, bad chunk sizes, oversized request lines).
 */
export function rawRequest(request: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  return exchange(request, timeoutMs, false) as Promise<RawResponse>;
}

/**
 * As rawRequest, then the client's side of the connection closed (a FIN), as a client that
 * stops sending midway does: the answer, or 'closed' when the server closed without one.
 */
export function rawRequestThenClose(request: string | Buffer, timeoutMs = 10_000): Promise<RawResponse | 'closed'> {
  return exchange(request, timeoutMs, true);
}

function exchange(request: string | Buffer, timeoutMs: number, halfClose: boolean): Promise<RawResponse | 'closed'> {
  const url = new URL(apiUrl());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    // Written without a FIN unless asked: a server may drop a half-closed connection before it answers.
    const socket = connect(Number(url.port), url.hostname, () => (halfClose ? socket.end(request) : socket.write(request)));
    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may close while we are still sending (it refused the request early).
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const end = raw.indexOf('\r\n\r\n');
      if (raw === '' && halfClose) return resolve('closed');
      if (end < 0) return reject(new Error(`no HTTP answer: ${JSON.stringify(raw.slice(0, 200))}`));
      const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      const text = raw.slice(end + 4);
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, text, body });
    });
  });
}

/** A complete HTTP/1.1 request that asks the server to close the connection after answering. */
export function httpRequest(method: string, target: string, headers: Array<[string, string]>, body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

export interface ChunkedPutAnswer {
  status: number;
  body: any;
}

export interface ChunkedPutOptions {
  /** Extra request headers (x-openstack-image-size, ...). */
  headers?: Record<string, string>;
  /** Destroy the connection after this many chunks instead of ending the body ('broken'). */
  breakAfter?: number;
  /** Runs after the first chunk is written, before the others. */
  afterFirstChunk?: () => Promise<void>;
}

/**
 * A PUT with a chunked body (no Content-Length) to `url`, as glanceclient sends a file: `chunks`
 * are written one by one, waiting for drain. The answer's status and JSON body, or 'broken' when
 * `breakAfter` cut the connection.
 */
export function putChunked(url: string, token: string, chunks: Buffer[], options: ChunkedPutOptions = {}): Promise<ChunkedPutAnswer | 'broken'> {
  const { headers = {}, breakAfter, afterFirstChunk } = options;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'PUT',
      headers: { 'X-Auth-Token': token, 'Content-Type': 'application/octet-stream', Accept: 'application/json', 'Transfer-Encoding': 'chunked', ...headers },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', (error) => (breakAfter !== undefined ? resolve('broken') : reject(error)));
    (async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (breakAfter !== undefined && i === breakAfter) {
          // Let what was written reach the server before the client goes away.
          await new Promise((r) => setTimeout(r, 300));
          req.destroy();
          resolve('broken');
          return;
        }
        if (!req.write(chunks[i])) await new Promise((r) => req.once('drain', r));
        if (i === 0 && afterFirstChunk) await afterFirstChunk();
      }
      req.end();
    })().catch(reject);
  });
}
