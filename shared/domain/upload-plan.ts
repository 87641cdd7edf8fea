import type { UploadSession } from './image.js';
import { badRequest } from './errors.js';

/** S3's multipart rules. */
export const MIB = 1024 * 1024;
export const MIN_PART_SIZE = 5 * MIB;
export const MAX_PART_SIZE = 5 * 1024 * MIB;
export const MAX_PARTS = 10_000;
export const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MIB;
/** Parts whose URLs one response carries; the server grows the part size to stay within it. */
export const LISTED_PARTS = 1000;
/** The server's part size for images that fit in LISTED_PARTS parts of it. */
export const DEFAULT_PART_SIZE = 8 * MIB;

export interface UploadPlan {
  size: number;
  partSize: number;
  partCount: number;
}

export interface PlannedPart {
  part_number: number;
  offset: number;
  length: number;
}

/** A part still to send, as the uploads extension answers it: PUT exactly its bytes to `url`. */
export interface PartUrl extends PlannedPart {
  url: string;
}

/**
 * An upload session as `POST /v2/images/{id}/uploads` and `GET …/uploads/{upload_id}` answer it
 * (README "uploads extension"); the service builds it, the CLI and the console read it.
 */
export interface UploadSessionView {
  upload_id: string;
  image_id: string;
  size: number;
  part_size: number;
  part_count: number;
  stage: boolean;
  expires_at: string;
  /** URLs of the parts still to send (at most 1,000 listed). */
  parts: PartUrl[];
  /** Only on GET (resume): whether the session still takes parts, and what the store already holds. */
  state?: UploadSession['state'];
  parts_done?: Array<{ part_number: number; etag: string; size: number }>;
}

const isWhole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * Part size and count for an upload of `size` bytes. A client's `part_size` is honoured when
 * S3 accepts it; otherwise the server picks DEFAULT_PART_SIZE, grown (in whole MiB) so that
 * every part's URL fits in one response.
 */
export function planUpload(size: unknown, requestedPartSize?: unknown): UploadPlan {
  // Any number past the largest image says so, also those too big to be exact (99999999999999999).
  if (typeof size === 'number' && size > MAX_OBJECT_SIZE) {
    throw badRequest(`'size' ${size} exceeds the largest image, ${MAX_OBJECT_SIZE} bytes (5 TiB)`);
  }
  if (!isWhole(size) || size < 1) throw badRequest("'size' must be a whole number of bytes, at least 1");
  let partSize: number;
  if (requestedPartSize === undefined || requestedPartSize === null) {
    partSize = Math.max(DEFAULT_PART_SIZE, Math.ceil(size / LISTED_PARTS / MIB) * MIB);
  } else {
    if (!isWhole(requestedPartSize)) throw badRequest("'part_size' must be a whole number of bytes");
    if (requestedPartSize < MIN_PART_SIZE && requestedPartSize < size) {
      throw badRequest(`'part_size' must be at least ${MIN_PART_SIZE} bytes (5 MiB) unless the image fits in one part`);
    }
    if (requestedPartSize > MAX_PART_SIZE) throw badRequest(`'part_size' must be at most ${MAX_PART_SIZE} bytes (5 GiB)`);
    if (Math.ceil(size / requestedPartSize) > MAX_PARTS) {
      throw badRequest(`'part_size' ${requestedPartSize} would need more than ${MAX_PARTS} parts for ${size} bytes`);
    }
    partSize = requestedPartSize;
  }
  partSize = Math.min(partSize, size);
  return { size, partSize, partCount: Math.ceil(size / partSize) };
}

export function plannedPart(plan: UploadPlan, partNumber: number): PlannedPart {
  const offset = (partNumber - 1) * plan.partSize;
  return { part_number: partNumber, offset, length: Math.min(plan.partSize, plan.size - offset) };
}

/** Checks a completion's part list against the plan: every part once, in order, none missing. */
export function missingParts(plan: UploadPlan, present: Iterable<number>): number[] {
  const have = new Set(present);
  const missing: number[] = [];
  for (let n = 1; n <= plan.partCount; n++) if (!have.has(n)) missing.push(n);
  return missing;
}

/** Parts of a streamed upload (a PUT /file body of any length) that keep one part size. */
const STREAMED_PARTS_PER_STEP = 1000;

/**
 * The size of part `partNumber` of a streamed upload, whose length is not known in advance (a
 * chunked body): DEFAULT_PART_SIZE for the first 1000 parts, one more DEFAULT_PART_SIZE every
 * 1000 parts after. Memory stays a few parts (8 MiB each up to 7.8 GiB of data), and S3's
 * 10,000 parts still hold 430 GiB (the last steps' parts are 80 MiB).
 */
export function streamedPartSize(partNumber: number): number {
  return DEFAULT_PART_SIZE * (1 + Math.floor((partNumber - 1) / STREAMED_PARTS_PER_STEP));
}

const FULL_STEPS = Math.floor(MAX_PARTS / STREAMED_PARTS_PER_STEP);

/**
 * The most bytes a streamed upload can hold within MAX_PARTS parts: the sum of streamedPartSize
 * over them, in closed form (every step k of 1000 parts holds 1000 parts of k x DEFAULT_PART_SIZE),
 * not summed part by part at import, which cost every function bundling this a cold-start millisecond or more.
 */
export const MAX_STREAMED_SIZE =
  DEFAULT_PART_SIZE * (STREAMED_PARTS_PER_STEP * ((FULL_STEPS * (FULL_STEPS + 1)) / 2) + (MAX_PARTS % STREAMED_PARTS_PER_STEP) * (FULL_STEPS + 1));
