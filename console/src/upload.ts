import { ApiError, type ImagesApi, type ImageView, type UploadPart } from './api.js';

/**
 * A file's bytes straight to the store with the uploads extension: open a session, PUT each part
 * (a `File.slice`, which the browser reads from disk as it sends: memory stays bounded whatever the
 * file's size) to its presigned URL with several in flight, retry a failed part with backoff,
 * complete, then follow verification until the image is active or refused.
 */
export interface UploadProgress {
  phase: 'sending' | 'verifying' | 'done';
  sent: number;
  total: number;
  partsDone: number;
  partCount: number;
  /** Over the whole upload so far. */
  bytesPerSecond: number;
  /** null until there is a rate to go by. */
  secondsLeft: number | null;
}

/**
 * An upload this browser started and has not finished, kept in localStorage (ids and the file's
 * fingerprint only, no token) so that a reload or a new tab can resume it: the same file chosen
 * again (name, size, modification time, and the SHA-256 of its first part) sends only the parts
 * the store does not hold.
 */
export interface OpenUpload {
  project: string;
  imageId: string;
  uploadId: string;
  fileName: string;
  size: number;
  lastModified: number;
  partSize: number;
  firstPartSha256: string;
  expiresAt: string;
}

const OPEN_UPLOADS = 'skyglass.console.open-uploads';

function openUploads(): OpenUpload[] {
  try {
    const kept = JSON.parse(localStorage.getItem(OPEN_UPLOADS) ?? '[]') as OpenUpload[];
    return kept.filter((upload) => Date.parse(upload.expiresAt) > Date.now());
  } catch {
    return [];
  }
}

function keepOpenUploads(uploads: OpenUpload[]): void {
  localStorage.setItem(OPEN_UPLOADS, JSON.stringify(uploads));
}

export function forgetUpload(uploadId: string): void {
  keepOpenUploads(openUploads().filter((upload) => upload.uploadId !== uploadId));
}

async function sha256(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The unfinished upload of this project that `file` is the file of, if any (its first part is read once to be sure). */
export async function findOpenUpload(project: string, file: File): Promise<OpenUpload | null> {
  for (const upload of openUploads()) {
    if (upload.project !== project || upload.fileName !== file.name || upload.size !== file.size || upload.lastModified !== file.lastModified) continue;
    if ((await sha256(file.slice(0, upload.partSize))) === upload.firstPartSha256) return upload;
  }
  return null;
}

export interface UploadOptions {
  /** The signed-in project, whose unfinished uploads this one joins until it ends. */
  project: string;
  /** Resume this unfinished upload (of the same file) instead of opening a new session. */
  resume?: OpenUpload;
  /** Parts in flight at once. @default 6: Chromium's (and Firefox's) connections per host over HTTP/1.1, which S3 speaks. */
  concurrency?: number;
  /** Tries per part before the upload gives up. @default 4 */
  attempts?: number;
  onProgress: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

/** Uploads `file` into the queued image `imageId` and answers the image once verification has settled. */
export async function uploadFile(api: ImagesApi, imageId: string, file: Blob, options: UploadOptions): Promise<ImageView> {
  const concurrency = options.concurrency ?? 6;
  const attempts = options.attempts ?? 4;
  const session = options.resume ? await api.getUpload(imageId, options.resume.uploadId) : await api.createUpload(imageId, file.size, partSizeFor(file.size));
  const started = performance.now();
  const loaded = new Map<number, number>();
  const etags = new Map<number, string>();
  // What the store already holds counts as sent; only the rest is PUT.
  for (const done of session.parts_done ?? []) etags.set(done.part_number, done.etag);
  const resumedBytes = (session.parts_done ?? []).reduce((sum, done) => sum + done.size, 0);
  if (!options.resume) {
    const firstPartSha256 = await sha256(file.slice(0, session.part_size));
    keepOpenUploads([
      ...openUploads(),
      {
        project: options.project,
        imageId,
        uploadId: session.upload_id,
        fileName: file instanceof File ? file.name : '',
        size: file.size,
        lastModified: file instanceof File ? file.lastModified : 0,
        partSize: session.part_size,
        firstPartSha256,
        expiresAt: session.expires_at,
      },
    ]);
  }
  const report = (phase: UploadProgress['phase']) => {
    const sentNow = [...loaded.values()].reduce((a, b) => a + b, 0);
    const sent = resumedBytes + sentNow;
    const seconds = (performance.now() - started) / 1000;
    const bytesPerSecond = seconds > 0 ? sentNow / seconds : 0;
    options.onProgress({
      phase,
      sent,
      total: file.size,
      partsDone: etags.size,
      partCount: session.part_count,
      bytesPerSecond,
      secondsLeft: bytesPerSecond > 0 ? (file.size - sent) / bytesPerSecond : null,
    });
  };
  report('sending');

  const queue = [...session.parts];
  const sendPart = async (part: UploadPart) => {
    let url = part.url;
    for (let attempt = 1; ; attempt++) {
      try {
        const etag = await putPart(url, file.slice(part.offset, part.offset + part.length), (bytes) => {
          loaded.set(part.part_number, bytes);
          report('sending');
        }, options.signal);
        loaded.set(part.part_number, part.length);
        etags.set(part.part_number, etag);
        report('sending');
        return;
      } catch (error) {
        loaded.set(part.part_number, 0);
        if (options.signal?.aborted || attempt >= attempts) throw error;
        await delay(500 * 2 ** (attempt - 1), options.signal);
        // An expired URL (15 minutes) is refused with 403: the session gives fresh ones.
        if (error instanceof PartError && error.status === 403) {
          const fresh = (await api.getUpload(imageId, session.upload_id)).parts.find((p) => p.part_number === part.part_number);
          if (fresh) url = fresh.url;
        }
      }
    }
  };
  const worker = async () => {
    for (let part = queue.shift(); part; part = queue.shift()) await sendPart(part);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  } catch (error) {
    // The session stays open (the stored parts with it): choosing the file again resumes it.
    queue.length = 0;
    throw new UploadInterrupted(imageId, session.upload_id, (error as Error).message);
  }

  const parts = [...etags.entries()].sort(([a], [b]) => a - b).map(([part_number, etag]) => ({ part_number, etag }));
  await api.completeUpload(imageId, session.upload_id, parts);
  forgetUpload(session.upload_id);
  report('verifying');
  const image = await settled(api, imageId, options.signal);
  report('done');
  return image;
}

/**
 * The part size the console asks for: the server's default (8 MiB) up to 512 MiB, 16 MiB above.
 * Each part is a request the browser makes through its six connections per host; halving their
 * number for big files took a 1 GiB upload to active from 1.26x to 1.16x the CLI's time, best of
 * two runs on two cores (`npm run bench -- --only console`).
 */
export function partSizeFor(size: number): number | undefined {
  return size > 512 * 1024 * 1024 ? 16 * 1024 * 1024 : undefined;
}

/** A part gave up after its tries: the session is still open, to resume or cancel. */
export class UploadInterrupted extends Error {
  constructor(
    readonly imageId: string,
    readonly uploadId: string,
    message: string,
  ) {
    super(message);
  }
}

/** Aborts an unfinished upload: the image is queued again and nothing is kept. */
export async function cancelUpload(api: ImagesApi, imageId: string, uploadId: string): Promise<void> {
  await api.abortUpload(imageId, uploadId);
  forgetUpload(uploadId);
}

export class PartError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One part's PUT: XMLHttpRequest, because fetch reports no upload progress. */
function putPart(url: string, body: Blob, onBytes: (bytes: number) => void, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.upload.onprogress = (event) => onBytes(event.loaded);
    xhr.onload = () => {
      const etag = xhr.getResponseHeader('ETag');
      if (xhr.status >= 200 && xhr.status < 300 && etag) resolve(etag);
      else reject(new PartError(xhr.status, `The store refused part of the upload (${xhr.status})`));
    };
    xhr.onerror = () => reject(new PartError(0, 'The connection to the store failed'));
    xhr.onabort = () => reject(new PartError(0, 'The upload was cancelled'));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new ApiError(0, 'The upload was cancelled'));
    }, { once: true });
  });
}

/** Polls the image while the verifier reads it (saving), as the README's clients do; at most a second apart, as that wait is part of the upload's time. */
async function settled(api: ImagesApi, id: string, signal?: AbortSignal): Promise<ImageView> {
  for (let wait = 250; ; wait = Math.min(wait * 2, 1000)) {
    const image = await api.showImage(id);
    if (image.status !== 'saving' && image.status !== 'importing') return image;
    await delay(wait, signal);
  }
}
