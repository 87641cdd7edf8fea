import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';

/**
 * An HTTP server on 127.0.0.1 serving web-download sources, each path its own behaviour:
 * `/file/<name>` the bytes given to `serve` (Content-Length, Accept-Ranges when `ranges`),
 * `/chunked/<name>` the same without a length, `/dies-once/<name>` half the bytes then a
 * reset on its first request and all of them after, `/dies/<name>` a reset every time,
 * `/redirect?to=<url>` a 302, `/missing` a 404. With `ranges`, a Range request gets its 206
 * (each range's requests counted as `<path> <start>`), and `/flaky-ranges/<name>` breaks off
 * every range but the first once, and `/slow-ranges/<name>` answers each range after
 * `rangeDelayMs` (a source slower than a fetcher run's budget). Each file's ETag is its own
 * (from its bytes), and a Range whose If-Range no longer matches gets the whole file with 200,
 * as RFC 9110 says. `extraUrl(name)` is a raw TCP server that declares the bytes' length and
 * sends more.
 */
export interface SourceServer {
  readonly base: string;
  readonly port: number;
  serve(name: string, data: Buffer): void;
  /** `/gated/<name>` sends all but the last MiB, then the rest once the function returned is called. */
  gate(name: string): () => void;
  /** Once `ranges` range requests for `name` have been answered, `name` serves `next` (another ETag). */
  changeAfterRanges(name: string, ranges: number, next: Buffer): void;
  /** How many requests each path got. */
  readonly requests: Map<string, number>;
  extraUrl(name: string): string;
  close(): Promise<void>;
}

const MIB_BYTES = 1024 * 1024;

export async function startSourceServer(options: { ranges?: boolean; rangeDelayMs?: number; noValidator?: boolean } = {}): Promise<SourceServer> {
  const files = new Map<string, Buffer>();
  const changes = new Map<string, { after: number; next: Buffer; answered: number }>();
  // noValidator: neither ETag nor Last-Modified, so a fetcher cannot resume it safely.
  const etagOf = (data: Buffer) => (options.noValidator ? undefined : `"${createHash('md5').update(data).digest('hex').slice(0, 16)}"`);
  const gates = new Map<string, { opened: Promise<void>; open: () => void }>();
  const requests = new Map<string, number>();
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://source');
    const count = (requests.get(url.pathname) ?? 0) + 1;
    requests.set(url.pathname, count);
    const [, kind, name = ''] = url.pathname.split('/');
    const data = files.get(name);
    if (kind === 'redirect') {
      res.writeHead(302, { Location: url.searchParams.get('to') ?? '/' }).end();
      return;
    }
    if (!data) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not here');
      return;
    }
    if (kind === 'chunked') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end(data);
      return;
    }
    const etag = etagOf(data);
    const ifRange = req.headers['if-range'];
    const range = options.ranges && (ifRange === undefined || ifRange === etag) ? /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') : null;
    if (range) {
      const change = changes.get(name);
      if (change && ++change.answered >= change.after) {
        files.set(name, change.next);
        changes.delete(name);
      }
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), data.length - 1);
      const key = `${url.pathname} ${start}`;
      const tries = (requests.get(key) ?? 0) + 1;
      requests.set(key, tries);
      const slice = data.subarray(start, end + 1);
      const answer = () => {
        res.writeHead(206, { 'Content-Type': 'application/octet-stream', 'Content-Length': slice.length, 'Content-Range': `bytes ${start}-${end}/${data.length}`, 'Accept-Ranges': 'bytes', ...(etag && { ETag: etag }) });
        // flaky-ranges: every range but the first breaks off halfway on its first request.
        if (kind === 'flaky-ranges' && start > 0 && tries === 1) res.write(slice.subarray(0, slice.length >> 1), () => res.destroy());
        else res.end(slice);
      };
      if (kind === 'slow-ranges') setTimeout(answer, options.rangeDelayMs ?? 0);
      else answer();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': data.length, ...(options.ranges && { 'Accept-Ranges': 'bytes', ...(etag && { ETag: etag }) }) });
    if (kind === 'gated') {
      // All but the last MiB, then the rest once the test opens the gate.
      res.write(data.subarray(0, data.length - MIB_BYTES));
      void gates.get(name)?.opened.then(() => res.end(data.subarray(data.length - MIB_BYTES)));
      return;
    }
    if (kind === 'dies' || (kind === 'dies-once' && count === 1)) {
      res.write(data.subarray(0, data.length >> 1), () => res.destroy());
      return;
    }
    res.end(data);
  });
  const raw: Server = createTcpServer((socket) => {
    socket.once('data', (head) => {
      const name = /^GET \/extra\/([^ ]+)/.exec(head.toString('latin1'))?.[1] ?? '';
      const data = files.get(name) ?? Buffer.alloc(0);
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${data.length}\r\nConnection: close\r\n\r\n`), data, Buffer.from('AND-SOME-MORE-BYTES')]));
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const rawPort = (raw.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    requests,
    serve: (name, data) => void files.set(name, data),
    changeAfterRanges: (name, after, next) => void changes.set(name, { after, next, answered: 0 }),
    gate: (name) => {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      gates.set(name, { opened, open });
      return open;
    },
    extraUrl: (name) => `http://127.0.0.1:${rawPort}/extra/${name}`,
    close: async () => {
      for (const gate of gates.values()) gate.open();
      http.closeAllConnections();
      await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => raw.close(r))]);
    },
  };
}
