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

export interface UploadOptions {
  /** Parts in flight at once. @default 4 */
  concurrency?: number;
  /** Tries per part before the upload gives up. @default 4 */
  attempts?: number;
  onProgress: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

/** Uploads `file` into the queued image `imageId` and answers the image once verification has settled. */
export async function uploadFile(api: ImagesApi, imageId: string, file: Blob, options: UploadOptions): Promise<ImageView> {
  const concurrency = options.concurrency ?? 4;
  const attempts = options.attempts ?? 4;
  const session = await api.createUpload(imageId, file.size);
  const started = performance.now();
  const loaded = new Map<number, number>();
  const etags = new Map<number, string>();
  const report = (phase: UploadProgress['phase']) => {
    const sent = [...loaded.values()].reduce((a, b) => a + b, 0);
    const seconds = (performance.now() - started) / 1000;
    const bytesPerSecond = seconds > 0 ? sent / seconds : 0;
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
    // Back to queued, nothing kept: the user can choose the file again.
    queue.length = 0;
    await api.abortUpload(imageId, session.upload_id).catch(() => undefined);
    throw error;
  }

  const parts = [...etags.entries()].sort(([a], [b]) => a - b).map(([part_number, etag]) => ({ part_number, etag }));
  await api.completeUpload(imageId, session.upload_id, parts);
  report('verifying');
  const image = await settled(api, imageId, options.signal);
  report('done');
  return image;
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

/** Polls the image while the verifier reads it (saving), as the README's clients do. */
async function settled(api: ImagesApi, id: string, signal?: AbortSignal): Promise<ImageView> {
  for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
    const image = await api.showImage(id);
    if (image.status !== 'saving' && image.status !== 'importing') return image;
    await delay(wait, signal);
  }
}
