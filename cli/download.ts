import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageApi } from './api.js';
import { unreachable } from './api.js';
import { CliError, EXIT } from './errors.js';
import { progressBar } from './progress.js';
import { backoffMs, sleep } from './transfer.js';

export interface DownloadOptions {
  progress: boolean;
  signal: AbortSignal;
  say: (line: string) => void;
  /** Step-by-step lines (--debug), on stderr. */
  trace: (line: string) => void;
  attempts?: number;
}

/**
 * What a partial download is of: kept beside `<file>.part`, so a later run continues it with a
 * Range request only when it is the same image data (same os_hash_value).
 */
interface PartialInfo {
  imageId: string;
  os_hash_value: string | null;
}

/**
 * Downloads the image's data into `path` (or stdout), verifying md5 and os_hash_value at the end.
 * Bytes go to `<path>.part`, renamed to `path` only once verified; an interrupted download keeps
 * the part and the next run resumes it with Range. A mismatch removes the part and exits 4.
 */
export async function downloadImageData(api: ImageApi, imageId: string, path: string | undefined, options: DownloadOptions): Promise<{ checksum: string; os_hash_value: string; size: number }> {
  const image = await api.getImage(imageId);
  if (image.status !== 'active') throw new CliError(`Image ${imageId} has no data to download (status ${image.status})`, EXIT.api);
  const size = Number(image.size);
  const algo = String(image.os_hash_algo ?? 'sha512');
  const expected = { checksum: image.checksum as string | null, os_hash_value: image.os_hash_value as string | null };
  const md5 = createHash('md5');
  const multihash = createHash(algo);
  const file = path ? resolve(path) : undefined;
  const part = file ? `${file}.part` : undefined;
  const infoFile = part ? `${part}.json` : undefined;
  let offset = 0;
  if (part && infoFile) {
    const info = readInfo(infoFile);
    const have = fileSize(part);
    if (info && info.imageId === imageId && info.os_hash_value === expected.os_hash_value && have !== null && have <= size) {
      offset = have;
      // The bytes already here count towards the hashes: read them once, then continue with the rest.
      await pipeline(createReadStream(part), hashInto([md5, multihash]));
      if (offset) options.say(`resuming download at byte ${offset} of ${size}`);
    } else {
      rmSync(part, { force: true });
    }
    writeFileSync(infoFile, JSON.stringify({ imageId, os_hash_value: expected.os_hash_value } satisfies PartialInfo));
  }
  const bar = progressBar(size, offset, options.progress);
  const attempts = options.attempts ?? 6;
  try {
    for (let attempt = 1; offset < size; attempt++) {
      try {
        const before = offset;
        offset = await fetchFrom(api, imageId, offset, size, part, [md5, multihash], options.signal, bar.add, options.trace);
        if (offset < size) options.trace(`the download broke off at byte ${offset}; continuing`);
        if (offset === before) throw new Error(`the download made no progress at byte ${offset}`);
      } catch (error) {
        if (options.signal.aborted || error instanceof CliError || attempt >= attempts) throw error;
        await sleep(backoffMs(attempt), options.signal);
      }
    }
  } catch (error) {
    if (options.signal.aborted) {
      throw new CliError(`Interrupted at byte ${offset} of ${size}.${part ? ` Run the same command again to resume (the bytes so far are in ${part}).` : ''}`, EXIT.interrupted);
    }
    throw error;
  } finally {
    bar.done();
  }
  const got = { checksum: md5.digest('hex'), os_hash_value: multihash.digest('hex') };
  const bad = (['checksum', 'os_hash_value'] as const).filter((k) => expected[k] && expected[k] !== got[k]);
  if (bad.length) {
    if (part) rmSync(part, { force: true });
    if (infoFile) rmSync(infoFile, { force: true });
    throw new CliError(
      `Corrupt image download: ${bad.map((k) => `${k} expected ${expected[k]} but got ${got[k]}`).join('; ')}.${file ? ` Nothing was written to ${path}.` : ''}`,
      EXIT.integrity,
    );
  }
  if (part && file && infoFile) {
    renameSync(part, file);
    rmSync(infoFile, { force: true });
  }
  return { ...got, size };
}

/** One GET of the presigned URL from `offset`, appended to the part file (or stdout); returns the new offset. */
async function fetchFrom(api: ImageApi, imageId: string, offset: number, size: number, part: string | undefined, hashes: Hash[], signal: AbortSignal, onBytes: (n: number) => void, trace: (line: string) => void): Promise<number> {
  const url = await api.downloadUrl(imageId);
  if (!url) throw new CliError(`Image ${imageId} has no data`, EXIT.api);
  let res: Response;
  try {
    res = await fetch(url, { headers: offset ? { Range: `bytes=${offset}-` } : {}, signal });
  } catch (error) {
    if (signal.aborted) throw error;
    throw Object.assign(unreachable(new URL(url).origin, error), { retry: true });
  }
  if (res.status !== (offset ? 206 : 200)) {
    const text = await res.text();
    if (res.status >= 500) throw new Error(`the store answered ${res.status}`);
    throw new CliError(`The store answered ${res.status} to the download: ${text.slice(0, 300)}`, EXIT.api);
  }
  let position = offset;
  const sink = part ? createWriteStream(part, { flags: offset ? 'a' : 'w' }) : process.stdout;
  const counter = new Writable({
    write(chunk: Buffer, _enc, callback) {
      for (const h of hashes) h.update(chunk);
      const mark = Math.floor(position / TRACE_EVERY);
      position += chunk.length;
      onBytes(chunk.length);
      if (Math.floor(position / TRACE_EVERY) > mark) trace(`received ${position} of ${size} bytes`);
      if (sink.write(chunk)) callback();
      else sink.once('drain', () => callback());
    },
    final(callback) {
      if (sink === process.stdout) return callback();
      (sink as NodeJS.WritableStream).end(() => callback());
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), counter, { signal });
  } catch (error) {
    // What arrived is on disk: wait for it to be flushed, so the next try (or run) continues from it.
    if (sink !== process.stdout) await new Promise<void>((r) => (sink as NodeJS.WritableStream).end(() => r()));
    if (!part) throw new CliError(`The download broke off at byte ${position} of ${size} (stdout cannot be resumed): ${(error as Error).message}`, EXIT.api);
    if (signal.aborted) throw error;
    return position;
  }
  return position;
}

const TRACE_EVERY = 4 * 1024 * 1024;

function hashInto(hashes: Hash[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, callback) {
      for (const h of hashes) h.update(chunk);
      callback();
    },
  });
}

function readInfo(file: string): PartialInfo | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PartialInfo;
  } catch {
    return null;
  }
}

function fileSize(file: string): number | null {
  try {
    return statSync(file).size;
  } catch {
    return null;
  }
}
