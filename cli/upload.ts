import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiError, CliError, EXIT, usageError } from './errors.js';
import type { Image, ImageApi, PartUrl, UploadSession } from './api.js';
import { progressBar } from './progress.js';
import { backoffMs, HttpStatusError, putFileRange, sleep } from './transfer.js';
import { clearState, loadState, saveState, type UploadState } from './upload-state.js';

export interface UploadOptions {
  parallel: number;
  progress: boolean;
  /** Refuse to start a new session: there must be one to resume. */
  resumeOnly: boolean;
  signal: AbortSignal;
  /** Lines for the user (resume hints), on stderr. */
  say: (line: string) => void;
  /** Step-by-step lines (--debug), on stderr. */
  trace: (line: string) => void;
  /** Tries per part before the upload gives up (the session stays resumable). */
  attempts?: number;
  /** Stage the data for an import (image-stage): the upload ends with the image uploading, not verified. */
  stage?: boolean;
}

/** The file to upload, checked before anything is sent. */
export function fileToUpload(path: string): { file: string; size: number; mtimeMs: number } {
  const file = resolve(path);
  let stat;
  try {
    stat = statSync(file);
  } catch (error) {
    throw usageError(`Cannot read --file ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  if (!stat.isFile()) throw usageError(`--file ${path} is not a regular file`);
  if (stat.size === 0) throw usageError(`--file ${path} is empty`);
  return { file, size: stat.size, mtimeMs: stat.mtimeMs };
}

/**
 * Uploads `path` into the image through the uploads extension: one session, its parts PUT
 * straight to the store `parallel` at a time (each retried with backoff), completed, and then
 * waited on until the verifier has settled the image. A session's id is kept in a local state
 * file from the moment it exists, so running the same upload again after a kill sends only the
 * parts the store does not hold.
 */
export async function uploadImageData(api: ImageApi, imageId: string, path: string, options: UploadOptions): Promise<Image> {
  const { file, size, mtimeMs } = fileToUpload(path);
  const resumeHint = `skyglass ${options.stage ? 'image-stage' : 'image-upload'} --resume --file ${path} ${imageId}`;
  const finish = () => (options.stage ? staged(api, imageId) : settle(api, imageId, options.signal));
  let session: UploadSession | undefined;
  const state = loadState(api.baseUrl, imageId, file);
  if (state && (state.size !== size || state.mtimeMs !== mtimeMs)) {
    // The file changed since its parts were sent: they are not its parts any more.
    options.say(`${path} changed since upload ${state.uploadId} started; starting again`);
    await api.abortUpload(imageId, state.uploadId).catch(() => undefined);
    clearState(api.baseUrl, imageId, file);
  } else if (state) {
    try {
      session = await api.getUpload(imageId, state.uploadId);
      options.say(`resuming upload ${state.uploadId}: ${session.parts_done?.length ?? 0} of ${session.part_count} parts already stored`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      clearState(api.baseUrl, imageId, file);
      // No session: it was completed (the process died before it saw the image settle), or aborted.
      const image = await api.getImage(imageId);
      const carriedOn = options.stage ? ['uploading'] : ['saving', 'importing', 'active'];
      if (carriedOn.includes(image.status) && image.size === size) return finish();
    }
  }
  if (!session) {
    if (options.resumeOnly) throw usageError(`Nothing to resume: no upload of ${path} to image ${imageId} was interrupted here`);
    const fresh = await api.createUpload(imageId, size, { stage: options.stage });
    const record: UploadState = { baseUrl: api.baseUrl, imageId, uploadId: fresh.upload_id, file, size, mtimeMs };
    saveState(record);
    session = fresh;
    options.say(`upload ${fresh.upload_id}: ${fresh.part_count} parts of ${fresh.part_size} bytes; if interrupted, run: ${resumeHint}`);
  }
  const uploadId = session.upload_id;
  const done = new Map<number, string>((session.parts_done ?? []).map((p) => [p.part_number, p.etag]));
  const stored = (session.parts_done ?? []).reduce((n, p) => n + p.size, 0);
  const bar = progressBar(size, stored, options.progress);
  try {
    await sendParts(api, imageId, session, done, file, options, bar.add);
  } catch (error) {
    if (options.signal.aborted) throw new CliError(`Interrupted: ${done.size} of ${session.part_count} parts stored. Resume with: ${resumeHint}`, EXIT.interrupted);
    throw new CliError(`${(error as Error).message}\n${done.size} of ${session.part_count} parts stored. Resume with: ${resumeHint}`, error instanceof CliError ? error.exitCode : EXIT.api);
  } finally {
    bar.done();
  }
  const parts = [...done].map(([part_number, etag]) => ({ part_number, etag })).sort((a, b) => a.part_number - b.part_number);
  options.trace(`every part stored (${parts.length}); completing`);
  await completeWithRetries(api, imageId, uploadId, parts, options);
  options.trace('complete accepted; waiting for verification');
  clearState(api.baseUrl, imageId, file);
  return finish();
}

/** A completed staged upload leaves the image uploading, its size set, ready for POST /import. */
async function staged(api: ImageApi, imageId: string): Promise<Image> {
  const image = await api.getImage(imageId);
  if (image.status !== 'uploading') throw new CliError(`Image ${imageId} is ${image.status} after staging, not uploading`, EXIT.api);
  return image;
}

async function sendParts(api: ImageApi, imageId: string, session: UploadSession, done: Map<number, string>, file: string, options: UploadOptions, onBytes: (n: number) => void): Promise<void> {
  const queue: PartUrl[] = session.parts.filter((p) => !done.has(p.part_number));
  const urls = new Map(queue.map((p) => [p.part_number, p.url]));
  const attempts = options.attempts ?? 6;
  let refreshing: Promise<void> | undefined;
  // Part URLs live 15 minutes: a 403 is most likely an expired one; the session's GET signs fresh ones.
  const refreshUrls = () =>
    (refreshing ??= api.getUpload(imageId, session.upload_id).then((s) => {
      for (const p of s.parts) urls.set(p.part_number, p.url);
      refreshing = undefined;
    }));
  const failure = new AbortController();
  const signal = AbortSignal.any([options.signal, failure.signal]);
  const worker = async () => {
    for (let part = queue.shift(); part && !signal.aborted; part = queue.shift()) {
      for (let attempt = 1; ; attempt++) {
        let sent = 0;
        try {
          const etag = await putFileRange(urls.get(part.part_number)!, file, part.offset, part.length, {
            sockets: options.parallel,
            signal,
            onBytes: (n) => {
              sent += n;
              onBytes(n);
            },
          });
          done.set(part.part_number, etag);
          options.trace(`part ${part.part_number} stored (${done.size}/${session.part_count})`);
          break;
        } catch (error) {
          onBytes(-sent);
          if (signal.aborted) throw error;
          const status = error instanceof HttpStatusError ? error.status : 0;
          const retryable = status === 0 || status === 403 || status === 408 || status === 429 || status >= 500;
          if (!retryable || attempt >= attempts) {
            failure.abort(error);
            throw new CliError(`part ${part.part_number} failed after ${attempt} tries: ${(error as Error).message}`, EXIT.api);
          }
          options.trace(`part ${part.part_number} try ${attempt} failed (${(error as Error).message}); retrying`);
          await sleep(backoffMs(attempt), signal);
          if (status === 403) await refreshUrls();
        }
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(options.parallel, queue.length)) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  if (options.signal.aborted) throw options.signal.reason;
}

/**
 * Completes the session, trying again on a 5xx or a lost connection: the store's complete of a
 * big upload can outlast the gateway's 29 s (a 504 while S3 carries on), or fail once. A complete
 * is idempotent (a repeat of one that went through answers 202 too), so trying again is safe.
 */
async function completeWithRetries(api: ImageApi, imageId: string, uploadId: string, parts: Array<{ part_number: number; etag: string }>, options: UploadOptions): Promise<void> {
  const attempts = options.attempts ?? 6;
  for (let attempt = 1; ; attempt++) {
    try {
      return await api.completeUpload(imageId, uploadId, parts);
    } catch (error) {
      const retryable = error instanceof ApiError ? error.status >= 500 : error instanceof CliError && error.exitCode === EXIT.unreachable;
      if (!retryable || attempt >= attempts || options.signal.aborted) throw error;
      options.trace(`complete try ${attempt} failed (${(error as Error).message.split('\n')[0]}); retrying`);
      await sleep(backoffMs(attempt), options.signal);
    }
  }
}

/** Polls the image until verification settles it: active, or refused (queued with the reason). At most a second apart: the wait is part of what the user sees as upload time. */
export async function settle(api: ImageApi, imageId: string, signal: AbortSignal): Promise<Image> {
  for (let wait = 100; ; wait = Math.min(wait * 1.5, 1000)) {
    const image = await api.getImage(imageId);
    if (image.status === 'active') return image;
    if (!['saving', 'importing'].includes(image.status)) {
      const why = image.os_skyglass_failure ? `: ${String(image.os_skyglass_failure)}` : '';
      throw new CliError(`Image ${imageId} was not accepted (status ${image.status})${why}`, EXIT.api);
    }
    await sleep(wait, signal);
  }
}
