import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  NoSuchKey,
  NoSuchUpload,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PartsRefusedError, UploadGoneError, type BlobStore, type DownloadOptions, type StoredPart } from '../ports/blob-store.js';
import type { StoreDefinition } from '../domain/stores.js';

/**
 * S3 client settings every client in the product uses. Without WHEN_REQUIRED the SDK writes
 * the CRC32 of an empty body into presigned UploadPart/PutObject URLs (breaking real uploads)
 * and emulators store aws-chunked framing inside objects (DESIGN.md §3).
 */
export const S3_CLIENT_DEFAULTS = {
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
} as const satisfies Partial<S3ClientConfig>;

/**
 * The SDK signs a Buffer body's SHA-256 (x-amz-content-sha256), which costs the streaming front a
 * second hash of every byte on top of MD5 and SHA-512 (npm run bench, section 5). Parts go over
 * TLS to S3 (which protects them on the way, as botocore's default for S3 over HTTPS reasons), and
 * the image's own MD5 and SHA-512 are computed from the same bytes: the part is signed as
 * UNSIGNED-PAYLOAD, the header already set being what the signer uses.
 */
function signedAsUnsignedPayload(command: UploadPartCommand): UploadPartCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'skyglassUnsignedPayload' },
  );
  return command;
}

const statusOf = (error: unknown) => (error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined);

export class S3BlobStore implements BlobStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async createMultipartUpload(key: string): Promise<string> {
    const out = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/octet-stream' }));
    if (!out.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
    return out.UploadId;
  }

  presignUploadPart(key: string, uploadId: string, partNumber: number, contentLength: number, expiresInSeconds: number): Promise<string> {
    // Content-Length is a signed header of the URL, so S3 itself refuses a body of any other
    // size (SignatureDoesNotMatch) instead of keeping it until complete. curl -T, fetch and
    // browsers send the header on their own.
    const command = new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ContentLength: contentLength });
    return getSignedUrl(this.s3, command, { expiresIn: expiresInSeconds, signableHeaders: new Set(['content-length']) });
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Uint8Array): Promise<string> {
    try {
      const command = new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.byteLength });
      const out = await this.s3.send(signedAsUnsignedPayload(command));
      if (!out.ETag) throw new Error('UploadPart returned no ETag');
      return out.ETag;
    } catch (error) {
      if (isUploadGone(error)) throw new UploadGoneError();
      throw error;
    }
  }

  async listParts(key: string, uploadId: string): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    try {
      do {
        const out = await this.s3.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
        for (const p of out.Parts ?? []) {
          if (p.PartNumber !== undefined && p.ETag) parts.push({ partNumber: p.PartNumber, etag: p.ETag, size: p.Size ?? 0 });
        }
        marker = out.IsTruncated ? out.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (error) {
      if (isUploadGone(error)) throw new UploadGoneError();
      throw error;
    }
    return parts;
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>): Promise<void> {
    try {
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      );
    } catch (error) {
      if (isUploadGone(error)) throw new UploadGoneError();
      if (error instanceof S3ServiceException && ['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall'].includes(error.name)) {
        throw new PartsRefusedError(error.message);
      }
      throw error;
    }
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (!isUploadGone(error)) throw error;
    }
  }

  async putObject(key: string, body: Uint8Array): Promise<void> {
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/octet-stream' }));
  }

  async read(key: string): Promise<AsyncIterable<Uint8Array> | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body as AsyncIterable<Uint8Array> | undefined;
    } catch (error) {
      if (error instanceof NoSuchKey || statusOf(error) === 404) return undefined;
      // S3 hides a missing key behind 403 from callers without an unconditional s3:ListBucket.
      // A prefix-scoped listing (bucket:list) tells the two apart; without that grant, or if
      // the object is there after all, the refusal stands.
      if (statusOf(error) === 403 && (await this.existsOrUnknown(key)) === false) return undefined;
      throw error;
    }
  }

  private async existsOrUnknown(key: string): Promise<boolean | undefined> {
    try {
      return await this.exists(key);
    } catch {
      return undefined;
    }
  }

  async deleteObject(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async *list(prefix: string): AsyncIterable<{ key: string; lastModified: Date }> {
    let token: string | undefined;
    do {
      const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of out.Contents ?? []) if (o.Key) yield { key: o.Key, lastModified: o.LastModified ?? new Date(0) };
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async *listUploads(prefix: string): AsyncIterable<{ key: string; uploadId: string; initiated: Date }> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const out = await this.s3.send(
        new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      );
      for (const u of out.Uploads ?? []) if (u.Key && u.UploadId) yield { key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) };
      [keyMarker, uploadIdMarker] = out.IsTruncated ? [out.NextKeyMarker, out.NextUploadIdMarker] : [undefined, undefined];
    } while (keyMarker);
  }

  async exists(key: string): Promise<boolean> {
    // A listing, not a HEAD: without an unconditional s3:ListBucket grant S3 answers a HEAD of a
    // missing key with 403, and the auditor's grant is limited to the images/ prefix.
    const out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key, MaxKeys: 1 }));
    return (out.Contents ?? []).some((o) => o.Key === key);
  }

  async copyFrom(source: StoreDefinition, key: string): Promise<void> {
    // The destination's region signs the call; S3 reads the source bucket wherever it is.
    await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: key, CopySource: encodeURI(`${source.bucket}/${key}`), ContentType: 'application/octet-stream', MetadataDirective: 'REPLACE' }));
  }

  async uploadPartCopy(key: string, uploadId: string, partNumber: number, source: StoreDefinition, range: { start: number; end: number }): Promise<string> {
    try {
      const out = await this.s3.send(
        new UploadPartCopyCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, CopySource: encodeURI(`${source.bucket}/${key}`), CopySourceRange: `bytes=${range.start}-${range.end}` }),
      );
      const etag = out.CopyPartResult?.ETag;
      if (!etag) throw new Error('UploadPartCopy returned no ETag');
      return etag;
    } catch (error) {
      if (isUploadGone(error)) throw new UploadGoneError();
      throw error;
    }
  }

  presignDownload(key: string, options: DownloadOptions): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentType: 'application/octet-stream',
      ResponseContentDisposition: `attachment; filename="${options.filename.replace(/[^\w.-]/g, '_')}"`,
    });
    return getSignedUrl(this.s3, command, { expiresIn: options.expiresInSeconds });
  }
}

function isUploadGone(error: unknown): boolean {
  return error instanceof NoSuchUpload || (error instanceof S3ServiceException && error.name === 'NoSuchUpload');
}
