import { createReadStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/** One keep-alive agent per scheme, as many sockets as parts in flight. */
const agents = new Map<string, http.Agent>();
function agentFor(url: URL, sockets: number): http.Agent {
  const key = `${url.protocol}${sockets}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: sockets }) : new http.Agent({ keepAlive: true, maxSockets: sockets });
    agents.set(key, agent);
  }
  return agent;
}

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}${body ? `: ${body.slice(0, 300)}` : ''}`);
  }
}

/**
 * PUTs bytes `offset … offset+length-1` of `file` to a presigned part URL, streamed from disk (at
 * most a MiB or so buffered, whatever the part size: the upload's memory does not grow with the
 * file), with the Content-Length the URL was signed for. Resolves to the part's ETag.
 */
export function putFileRange(urlText: string, file: string, offset: number, length: number, options: { sockets: number; signal: AbortSignal; onBytes: (n: number) => void }): Promise<string> {
  const url = new URL(urlText);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const body = createReadStream(file, { start: offset, end: offset + length - 1, highWaterMark: 1024 * 1024 });
    const req = lib.request(url, { method: 'PUT', agent: agentFor(url, options.sockets), signal: options.signal, headers: { 'Content-Length': String(length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new HttpStatusError(res.statusCode ?? 0, text));
        const etag = res.headers.etag;
        if (!etag) return reject(new Error('the store answered 200 without an ETag'));
        resolve(etag);
      });
    });
    req.on('error', (error) => {
      body.destroy();
      reject(error);
    });
    body.on('data', (chunk) => options.onBytes(chunk.length));
    body.on('error', (error) => req.destroy(error));
    body.pipe(req);
  });
}

/** Waits `ms`, or until `signal` aborts; the abort listener goes with the wait (polls share one signal). */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Exponential backoff with full jitter: 0.25 s, 0.5 s, 1 s, ... at most 8 s. */
export const backoffMs = (attempt: number) => Math.random() * Math.min(8000, 250 * 2 ** attempt);
