import { call } from './client.js';

export const MiB = 1024 * 1024;

/** Polls the image until it leaves saving/importing (verification runs asynchronously). */
export async function settled(token: string, id: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call(`/v2/images/${id}`, { token });
    if (res.status !== 200) throw new Error(`GET image ${id}: ${res.status} ${res.text}`);
    if (!['saving', 'importing'].includes(res.body.status)) return res.body;
    if (Date.now() > deadline) throw new Error(`image ${id} still ${res.body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface PartUrl {
  part_number: number;
  url: string;
  offset: number;
  length: number;
}

/** PUTs parts straight to the store with plain fetch, `concurrency` at a time; returns their ETags. */
export async function putParts(data: Uint8Array, parts: PartUrl[], concurrency = 4): Promise<Array<{ part_number: number; etag: string }>> {
  const queue = [...parts];
  const done: Array<{ part_number: number; etag: string }> = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        const res = await fetch(part.url, { method: 'PUT', body: data.subarray(part.offset, part.offset + part.length) });
        if (res.status !== 200) throw new Error(`part ${part.part_number}: ${res.status} ${await res.text()}`);
        done.push({ part_number: part.part_number, etag: res.headers.get('etag') ?? '' });
      }
    }),
  );
  return done.sort((a, b) => a.part_number - b.part_number);
}

/** Follows the download redirect the way `curl -L` does, sending `headers` to the store too. */
export async function download(token: string, id: string, headers: Record<string, string> = {}) {
  const first = await call(`/v2/images/${id}/file`, { token, headers });
  if (first.status !== 302) return { redirect: first, store: undefined };
  const location = first.headers.get('location')!;
  const store = await fetch(location, { headers });
  return { redirect: first, store, bytes: Buffer.from(await store.arrayBuffer()) };
}

/** Polls `probe` until it answers something other than undefined (every 200 ms, up to `timeoutMs`). */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
