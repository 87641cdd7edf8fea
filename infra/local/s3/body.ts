import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { S3Error } from './xml.js';

/**
 * Request bodies that S3 checks before it stores anything: a signed payload hash
 * (`x-amz-content-sha256`), `Content-MD5`, flexible checksums (`x-amz-checksum-*`, in a header,
 * a presigned query or an aws-chunked trailer), and aws-chunked framing, which S3 strips. Such
 * bodies are received whole (in memory when small, else in a spool file) and checked, and only
 * then handed on; bodies with nothing to check stream straight through.
 */

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];
const ALGORITHM_LABEL: Record<ChecksumAlgorithm, string> = { crc32: 'CRC32', crc32c: 'CRC32C', crc64nvme: 'CRC64NVME', sha1: 'SHA1', sha256: 'SHA256' };

export interface BodyChecks {
  /** Hex SHA-256 of the bytes on the wire, from a header-signed request. */
  sha256?: string;
  /** Base64 MD5 of the content. */
  contentMd5?: string;
  /** Flexible checksums of the content known before the body (header or presigned query). */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** The body is aws-chunked; trailers may carry checksums. */
  awsChunked?: {
    decodedLength?: number;
    /** For STREAMING-AWS4-HMAC-SHA256-PAYLOAD: the signature each chunk must carry, given the previous one. */
    chunkSignature?: (previousSignature: string, chunkSha256: string) => Promise<string>;
    /** The signature of the request (the first chunk's previous signature). */
    seedSignature?: string;
  };
}

export function needsInspection(checks: BodyChecks): boolean {
  return checks.sha256 !== undefined || checks.contentMd5 !== undefined || Object.keys(checks.checksums).length > 0 || checks.awsChunked !== undefined;
}

/** A body that has been received and checked. */
export interface ReceivedBody {
  length: number;
  /** The content as a Buffer (small) or a fresh stream of the spool file. */
  content(): Buffer | Readable;
  dispose(): Promise<void>;
}

const MEMORY_LIMIT = 1024 * 1024;

export async function receiveBody(source: AsyncIterable<Buffer>, checks: BodyChecks, spoolDir: string): Promise<ReceivedBody> {
  const wire = checks.sha256 !== undefined ? createHash('sha256') : undefined;
  const md5 = checks.contentMd5 !== undefined ? createHash('md5') : undefined;
  const running = new Map<ChecksumAlgorithm, RunningChecksum>();
  const track = (algorithm: ChecksumAlgorithm) => {
    if (!running.has(algorithm)) running.set(algorithm, runningChecksum(algorithm));
  };
  for (const algorithm of Object.keys(checks.checksums) as ChecksumAlgorithm[]) track(algorithm);
  // Trailer checksums are only known at the end: compute the usual candidates as we go.
  if (checks.awsChunked) for (const algorithm of CHECKSUM_ALGORITHMS) track(algorithm);
  const chunked = checks.awsChunked;
  const decoder = chunked ? new AwsChunkedDecoder(chunked.chunkSignature !== undefined) : undefined;
  let previousSignature = chunked?.seedSignature ?? '';
  const verifyChunks = async () => {
    if (!decoder || !chunked?.chunkSignature) return;
    for (const chunk of decoder.takeSignedChunks()) {
      const expected = await chunked.chunkSignature(previousSignature, chunk.sha256);
      if (expected !== chunk.signature) {
        throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
      }
      previousSignature = chunk.signature;
    }
  };

  const memory: Buffer[] = [];
  let length = 0;
  let file: { path: string; stream: WriteStream } | undefined;
  const dispose = async () => {
    if (file) {
      file.stream.destroy();
      await rm(file.path, { force: true });
    }
  };
  const keep = async (chunk: Buffer) => {
    if (chunk.length === 0) return;
    length += chunk.length;
    md5?.update(chunk);
    for (const checksum of running.values()) checksum.update(chunk);
    if (!file && length <= MEMORY_LIMIT) {
      memory.push(chunk);
      return;
    }
    if (!file) {
      const path = join(spoolDir, `body-${randomUUID()}`);
      file = { path, stream: createWriteStream(path) };
      for (const held of memory.splice(0)) file.stream.write(held);
    }
    if (!file.stream.write(chunk)) await once(file.stream, 'drain');
  };

  try {
    try {
      for await (const chunk of source) {
        wire?.update(chunk);
        if (decoder) {
          for (const piece of decoder.push(chunk)) await keep(piece);
          await verifyChunks();
        } else await keep(chunk);
      }
    } catch (error) {
      if (error instanceof S3Error) throw error;
      throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
    }
    const trailers = decoder?.end() ?? new Map<string, string>();
    if (file) {
      file.stream.end();
      await once(file.stream, 'finish');
    }

    if (wire && checks.sha256 !== undefined) {
      const computed = wire.digest('hex');
      if (computed !== checks.sha256.toLowerCase()) {
        throw new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
          ClientComputedContentSHA256: checks.sha256,
          S3ComputedContentSHA256: computed,
        });
      }
    }
    if (checks.awsChunked?.decodedLength !== undefined && checks.awsChunked.decodedLength !== length) {
      throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the x-amz-decoded-content-length HTTP header');
    }
    if (md5 && checks.contentMd5 !== undefined) {
      const expected = Buffer.from(checks.contentMd5, 'base64');
      if (expected.length !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.', { 'Content-MD5': checks.contentMd5 });
      if (!expected.equals(md5.digest())) {
        throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', { ExpectedDigest: checks.contentMd5 });
      }
    }
    const expected: Partial<Record<ChecksumAlgorithm, string>> = { ...checks.checksums };
    for (const [name, value] of trailers) {
      const algorithm = /^x-amz-checksum-(.+)$/.exec(name)?.[1] as ChecksumAlgorithm | undefined;
      if (algorithm && CHECKSUM_ALGORITHMS.includes(algorithm)) expected[algorithm] = value;
    }
    for (const [algorithm, value] of Object.entries(expected) as [ChecksumAlgorithm, string][]) {
      const computed = running.get(algorithm)?.digest();
      // CRC64NVME has no implementation here; it is accepted unchecked.
      if (computed === undefined) continue;
      if (computed !== value) {
        throw new S3Error('BadDigest', `The ${ALGORITHM_LABEL[algorithm]} you specified did not match the calculated checksum.`);
      }
    }
  } catch (error) {
    await dispose();
    throw error;
  }

  const spool = file;
  return {
    length,
    content: () => (spool ? createReadStream(spool.path) : Buffer.concat(memory)),
    dispose,
  };
}

interface RunningChecksum {
  update(chunk: Buffer): void;
  /** Base64, as S3 writes checksums; undefined when this algorithm cannot be computed here. */
  digest(): string | undefined;
}

function runningChecksum(algorithm: ChecksumAlgorithm): RunningChecksum {
  switch (algorithm) {
    case 'sha1':
    case 'sha256': {
      const hash: Hash = createHash(algorithm);
      return { update: (chunk) => hash.update(chunk), digest: () => hash.digest('base64') };
    }
    case 'crc32': {
      let value = 0;
      return { update: (chunk) => (value = crc32(chunk, value)), digest: () => uint32Base64(value) };
    }
    case 'crc32c': {
      let value = 0;
      return { update: (chunk) => (value = crc32c(chunk, value)), digest: () => uint32Base64(value) };
    }
    default:
      return { update: () => undefined, digest: () => undefined };
  }
}

function uint32Base64(value: number): string {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer.toString('base64');
}

let CRC32C_TABLE: Uint32Array | undefined;
/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), continuing from `previous`. */
export function crc32c(data: Uint8Array, previous = 0): number {
  if (!CRC32C_TABLE) {
    CRC32C_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      CRC32C_TABLE[n] = c >>> 0;
    }
  }
  const table = CRC32C_TABLE;
  let crc = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) crc = (table[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * Removes aws-chunked framing (`<hex size>[;chunk-signature=…]\r\n<data>\r\n … 0\r\n<trailers>\r\n`).
 * In the signed variant each chunk's signature and data hash are handed out for verification.
 */
export class AwsChunkedDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  private readonly trailers = new Map<string, string>();
  private chunkSignature = '';
  private chunkHash: Hash | undefined;
  private readonly completed: SignedChunk[] = [];

  constructor(private readonly signed: boolean) {}

  /** Signed chunks whose data has fully arrived since the last call, in order. */
  takeSignedChunks(): SignedChunk[] {
    return this.completed.splice(0);
  }

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (this.state === 'data') {
        if (this.pending.length === 0) break;
        const take = Math.min(this.remaining, this.pending.length);
        const piece = this.pending.subarray(0, take);
        out.push(piece);
        this.chunkHash?.update(piece);
        this.pending = this.pending.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      if (this.state === 'done') {
        if (this.pending.length) throw malformedChunks();
        break;
      }
      const eol = this.pending.indexOf('\r\n');
      if (eol < 0) {
        if (this.pending.length > 4096) throw malformedChunks();
        break;
      }
      const line = this.pending.subarray(0, eol).toString('latin1');
      this.pending = this.pending.subarray(eol + 2);
      if (this.state === 'data-end') {
        if (line !== '') throw malformedChunks();
        if (this.signed) this.completeChunk();
        this.state = 'size';
      } else if (this.state === 'size') {
        const [hex = '', ...extensions] = line.split(';');
        if (!/^[0-9a-fA-F]+$/.test(hex)) throw malformedChunks();
        this.remaining = parseInt(hex, 16);
        if (this.signed) {
          const signature = extensions.find((e) => e.startsWith('chunk-signature='))?.slice('chunk-signature='.length);
          if (!signature) throw malformedChunks();
          this.chunkSignature = signature;
          this.chunkHash = createHash('sha256');
          if (this.remaining === 0) this.completeChunk();
        }
        this.state = this.remaining === 0 ? 'trailer' : 'data';
      } else if (this.state === 'trailer') {
        if (line === '') {
          this.state = 'done';
          continue;
        }
        const colon = line.indexOf(':');
        if (colon < 0) throw malformedChunks();
        this.trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    return out;
  }

  private completeChunk(): void {
    this.completed.push({ signature: this.chunkSignature, sha256: this.chunkHash?.digest('hex') ?? '' });
    this.chunkHash = undefined;
  }

  /** The trailers; throws if the framing ended early. */
  end(): Map<string, string> {
    // Some writers end right after the last chunk (or its trailers) without the closing blank line.
    if (this.state === 'trailer' && this.pending.length === 0) this.state = 'done';
    if (this.state !== 'done') throw malformedChunks();
    return this.trailers;
  }
}

export interface SignedChunk {
  signature: string;
  /** Hex SHA-256 of the chunk's data. */
  sha256: string;
}

function malformedChunks(): S3Error {
  return new S3Error('IncompleteBody', 'The request body is not valid aws-chunked encoding.');
}
