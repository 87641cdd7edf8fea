import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3_CLIENT_DEFAULTS } from '../../shared/adapters/s3-blob-store.js';
import { startLocalS3, type LocalS3 } from '../../infra/local/s3/index.js';
import { NodeSha256 } from '../../infra/local/s3/sigv4.js';

const BUCKET = 'skyglass-images';
/** A second bucket, as another store's: UploadPartCopy reads across buckets. */
const OTHER_BUCKET = 'skyglass-images-other';
const CREDENTIALS = { accessKeyId: 'local-key', secretAccessKey: 'local-secret' };
const REGION = 'us-east-1';
const MiB = 1024 * 1024;

const md5 = (data: Uint8Array) => createHash('md5').update(data).digest('hex');
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function clientFor(endpoint: string, overrides: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    forcePathStyle: true,
    ...S3_CLIENT_DEFAULTS,
    maxAttempts: 1,
    ...overrides,
  });
}

/** The S3 error a rejected SDK call carries (name = S3 error code). */
async function s3Failure(promise: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(S3ServiceException);
    const e = error as S3ServiceException;
    return { code: e.name, status: e.$metadata.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

const errorCode = (xml: string) => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe('local S3 (s3rver behind a SigV4/multipart front)', () => {
  let dataDir: string;
  let s3: LocalS3;
  let client: S3Client;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'skyglass-local-s3-'));
    s3 = await startLocalS3({ dataDir, buckets: [BUCKET, OTHER_BUCKET], region: REGION, ...CREDENTIALS });
    client = clientFor(s3.endpoint);
  });

  afterAll(async () => {
    client?.destroy();
    await s3?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const presignPart = (key: string, uploadId: string, partNumber: number, options: Parameters<typeof getSignedUrl>[2] = {}) =>
    getSignedUrl(client, new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: partNumber }), { expiresIn: 300, ...options });

  const createUpload = async (key: string) => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ContentType: 'application/x-qemu-disk' }));
    expect(UploadId).toBeTruthy();
    return UploadId as string;
  };

  const putPart = async (key: string, uploadId: string, partNumber: number, body: Uint8Array) => {
    const response = await fetch(await presignPart(key, uploadId, partNumber), { method: 'PUT', body });
    expect(response.status, await response.clone().text()).toBe(200);
    return response.headers.get('etag') as string;
  };

  describe('a 12 MiB image uploaded in 3 parts through presigned URLs', () => {
    const key = 'images/big/data';
    const data = new Uint8Array(randomBytes(12 * MiB));
    const partSize = 5 * MiB;
    const parts = [data.subarray(0, partSize), data.subarray(partSize, 2 * partSize), data.subarray(2 * partSize)];
    let uploadId: string;
    let etags: string[];

    beforeAll(async () => {
      uploadId = await createUpload(key);
      etags = await Promise.all(parts.map((part, i) => putPart(key, uploadId, i + 1, part)));
    });

    it('answers each part PUT with the part MD5 as ETag', () => {
      expect(etags).toEqual(parts.map((p) => `"${md5(p)}"`));
    });

    it('lists the parts (ListParts), with paging', async () => {
      const all = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
      expect(all.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual(parts.map((p, i) => [i + 1, etags[i], p.length]));
      expect(all.IsTruncated).toBe(false);

      const first = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MaxParts: 2 }));
      expect(first.Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
      expect(first.IsTruncated).toBe(true);
      expect(first.NextPartNumberMarker).toBe('2');
      const rest = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumberMarker: first.NextPartNumberMarker }));
      expect(rest.Parts?.map((p) => p.PartNumber)).toEqual([3]);

      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'images/big/' }));
      expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toContainEqual([key, uploadId]);
    });

    it('refuses a part URL signed for part 2 when used for part 3 (the signature covers partNumber)', async () => {
      const url = new URL(await presignPart(key, uploadId, 2));
      url.searchParams.set('partNumber', '3');
      const response = await fetch(url, { method: 'PUT', body: parts[2] });
      expect(response.status).toBe(403);
      expect(errorCode(await response.text())).toBe('SignatureDoesNotMatch');
    });

    it('completes with the S3 multipart ETag and serves identical bytes', async () => {
      const expectedEtag = `"${createHash('md5')
        .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
        .digest('hex')}-3"`;
      const done = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      expect(done.ETag).toBe(expectedEtag);

      const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const bytes = await object.Body!.transformToByteArray();
      expect(bytes.length).toBe(data.length);
      expect(sha256(bytes)).toBe(sha256(data));
      expect(object.ETag).toBe(expectedEtag);
      expect(object.ContentType).toBe('application/x-qemu-disk');

      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect([head.ContentLength, head.ETag]).toEqual([data.length, expectedEtag]);
      const listing = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'images/big/' }));
      expect(listing.Contents?.map((o) => [o.Key, o.Size, o.ETag])).toEqual([[key, data.length, expectedEtag]]);

      // Completed uploads are gone, as in S3.
      expect(await s3Failure(client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })))).toEqual({ code: 'NoSuchUpload', status: 404 });
    });

    it('serves byte ranges: 206 with Content-Range, suffix ranges, 416 past the end', async () => {
      const ranged = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=100-199' }));
      expect(ranged.$metadata.httpStatusCode).toBe(206);
      expect(ranged.ContentRange).toBe(`bytes 100-199/${data.length}`);
      expect(Buffer.from(await ranged.Body!.transformToByteArray()).equals(Buffer.from(data.subarray(100, 200)))).toBe(true);

      const suffix = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=-10' }));
      expect(suffix.ContentRange).toBe(`bytes ${data.length - 10}-${data.length - 1}/${data.length}`);
      expect(Buffer.from(await suffix.Body!.transformToByteArray()).equals(Buffer.from(data.subarray(-10)))).toBe(true);

      expect(await s3Failure(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: `bytes=${data.length}-` })))).toEqual({
        code: 'InvalidRange',
        status: 416,
      });

      // A presigned GET with Range, as a client following the API's 302 would send it.
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 60 });
      const response = await fetch(url, { headers: { Range: `bytes=${6 * MiB}-${6 * MiB + 9}` } });
      expect(response.status).toBe(206);
      expect(response.headers.get('content-range')).toBe(`bytes ${6 * MiB}-${6 * MiB + 9}/${data.length}`);
      expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(data.subarray(6 * MiB, 6 * MiB + 10)))).toBe(true);
    });
  });

  describe('presigned URLs and signatures', () => {
    const key = 'small/object';
    const body = new Uint8Array(randomBytes(4096));

    beforeAll(async () => {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    });

    it('serves a presigned GET', async () => {
      const response = await fetch(await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 60 }));
      expect(response.status).toBe(200);
      expect(response.headers.get('etag')).toBe(`"${md5(body)}"`);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(body));
    });

    it('refuses an expired URL', async () => {
      const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) });
      const response = await fetch(url);
      expect(response.status).toBe(403);
      const xml = await response.text();
      expect(errorCode(xml)).toBe('AccessDenied');
      expect(xml).toContain('Request has expired');
    });

    it('refuses a tampered signature, another key, and unsigned requests', async () => {
      const url = new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 60 }));
      const signature = url.searchParams.get('X-Amz-Signature') as string;
      url.searchParams.set('X-Amz-Signature', `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`);
      const tampered = await fetch(url);
      expect(tampered.status).toBe(403);
      expect(errorCode(await tampered.text())).toBe('SignatureDoesNotMatch');

      const other = new URL(await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'small/other' }), { expiresIn: 60 }));
      url.searchParams.set('X-Amz-Signature', other.searchParams.get('X-Amz-Signature') as string);
      expect((await fetch(url)).status).toBe(403);

      const unsigned = await fetch(`${s3.endpoint}/${BUCKET}/${key}`);
      expect(unsigned.status).toBe(403);
      expect(errorCode(await unsigned.text())).toBe('AccessDenied');
      expect((await fetch(`${s3.endpoint}/${BUCKET}/${key}`, { method: 'PUT', body: 'x' })).status).toBe(403);

      const wrongSecret = clientFor(s3.endpoint, { credentials: { ...CREDENTIALS, secretAccessKey: 'not-the-secret' } });
      expect(await s3Failure(wrongSecret.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })))).toMatchObject({ status: 403 });
      expect(await s3Failure(wrongSecret.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })))).toEqual({ code: 'SignatureDoesNotMatch', status: 403 });
      wrongSecret.destroy();
      const wrongKey = clientFor(s3.endpoint, { credentials: { ...CREDENTIALS, accessKeyId: 'someone-else' } });
      expect(await s3Failure(wrongKey.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })))).toEqual({ code: 'InvalidAccessKeyId', status: 403 });
      wrongKey.destroy();
    });

    it('refuses x-amz-* headers the signature does not cover, as S3 does (x-amz-acl, SSE-C), and stores nothing', async () => {
      const uploadId = await createUpload('small/unsigned-headers');
      const url = await presignPart('small/unsigned-headers', uploadId, 1);
      const sseC = {
        'x-amz-server-side-encryption-customer-algorithm': 'AES256',
        'x-amz-server-side-encryption-customer-key': randomBytes(32).toString('base64'),
      };
      const unsignedHeaders: Array<Record<string, string>> = [{ 'x-amz-acl': 'public-read' }, sseC, { 'X-Amz-Meta-Owner': 'me', 'x-amz-date': '20990101T000000Z' }];
      for (const headers of unsignedHeaders) {
        const response = await fetch(url, { method: 'PUT', headers, body: 'part bytes' });
        expect(response.status, JSON.stringify(headers)).toBe(403);
        const xml = await response.text();
        expect(errorCode(xml)).toBe('AccessDenied');
        expect(xml).toContain('There were headers present in the request which were not signed');
        expect(/<HeadersNotSigned>([^<]*)<\/HeadersNotSigned>/.exec(xml)?.[1]?.split(', ').sort()).toEqual(Object.keys(headers).map((h) => h.toLowerCase()).sort());
      }
      // A header-signed call with an x-amz-acl added after signing is refused the same way.
      const tampering = clientFor(s3.endpoint);
      tampering.middlewareStack.add(
        (next) => async (args) => {
          (args.request as { headers: Record<string, string> }).headers['x-amz-acl'] = 'public-read';
          return next(args);
        },
        { step: 'finalizeRequest', priority: 'low', name: 'addAclAfterSigning' },
      );
      expect(await s3Failure(tampering.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'small/acl', Body: 'x' })))).toEqual({ code: 'AccessDenied', status: 403 });
      tampering.destroy();
      expect((await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'small/unsigned-headers', UploadId: uploadId }))).Parts ?? []).toEqual([]);
      expect(await s3Failure(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'small/acl' })))).toMatchObject({ status: 404 });
      // Headers that are not x-amz-* (and the payload hash) need no signature.
      const plain = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, body: 'part bytes' });
      expect(plain.status, await plain.clone().text()).toBe(200);
    });

    it('holds a part URL signed with a Content-Length to that length', async () => {
      const uploadId = await createUpload('small/sized-part');
      const url = await getSignedUrl(client, new UploadPartCommand({ Bucket: BUCKET, Key: 'small/sized-part', UploadId: uploadId, PartNumber: 1, ContentLength: 16 }), { expiresIn: 60 });
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;host');
      for (const size of [15, 17, 6 * MiB]) {
        const response = await fetch(url, { method: 'PUT', body: new Uint8Array(size) });
        expect(response.status, `${size} bytes`).toBe(403);
        expect(errorCode(await response.text())).toBe('SignatureDoesNotMatch');
      }
      expect((await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'small/sized-part', UploadId: uploadId }))).Parts ?? []).toEqual([]);
      expect((await fetch(url, { method: 'PUT', body: new Uint8Array(16) })).status).toBe(200);
    });

    it('refuses a header-signed body that does not match its x-amz-content-sha256', async () => {
      const signer = new SignatureV4({ service: 's3', region: REGION, credentials: CREDENTIALS, sha256: NodeSha256, uriEscapePath: false });
      const host = new URL(s3.endpoint).host;
      const signed = await signer.sign({
        method: 'PUT',
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: `/${BUCKET}/small/forged`,
        query: {},
        headers: { host, 'x-amz-content-sha256': sha256(Buffer.from('what was signed')) },
      });
      const response = await fetch(`${s3.endpoint}/${BUCKET}/small/forged`, { method: 'PUT', headers: signed.headers, body: 'what was sent' });
      expect(response.status).toBe(400);
      expect(errorCode(await response.text())).toBe('XAmzContentSHA256Mismatch');
      expect(await s3Failure(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'small/forged' })))).toMatchObject({ status: 404 });
    });
  });

  describe('multipart failure paths', () => {
    it('answers NoSuchUpload after an abort, and for unknown uploads', async () => {
      const key = 'aborted/data';
      const uploadId = await createUpload(key);
      await putPart(key, uploadId, 1, new Uint8Array(randomBytes(1024)));
      const url = await presignPart(key, uploadId, 2);
      const partsDir = join(dataDir, 'objects', BUCKET, '._S3rver_uploads', uploadId);
      expect(existsSync(partsDir)).toBe(true);
      await client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
      expect(existsSync(partsDir), 'the parts s3rver kept are deleted').toBe(false);

      const response = await fetch(url, { method: 'PUT', body: new Uint8Array(16) });
      expect(response.status).toBe(404);
      expect(errorCode(await response.text())).toBe('NoSuchUpload');
      expect(await s3Failure(client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })))).toEqual({ code: 'NoSuchUpload', status: 404 });
      expect(await s3Failure(client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })))).toEqual({ code: 'NoSuchUpload', status: 404 });
      const made = await fetch(await presignPart(key, 'no-such-upload-id', 1), { method: 'PUT', body: new Uint8Array(16) });
      expect(made.status).toBe(404);
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'aborted/' }));
      expect(uploads.Uploads ?? []).toEqual([]);
    });

    it('completes an upload once when several completes race: each is 200 or NoSuchUpload, and after NoSuchUpload the object is there', async () => {
      // As S3: a complete that finds the upload gone answers only once the one that took it has
      // stored the object (the service then reads "gone, object present" as completed, not aborted).
      for (let round = 0; round < 5; round++) {
        const key = `raced/data-${round}`;
        const uploadId = await createUpload(key);
        const data = new Uint8Array(randomBytes(6 * MiB));
        const etags = [await putPart(key, uploadId, 1, data.subarray(0, 5 * MiB)), await putPart(key, uploadId, 2, data.subarray(5 * MiB))];
        const Parts = etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 }));
        const answers = await Promise.all(
          Array.from({ length: 6 }, async () => {
            const outcome = await client
              .send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MultipartUpload: { Parts } }))
              .then(() => 'completed', (error: S3ServiceException) => error.name);
            // Seen by this caller at once, as the service looks after a NoSuchUpload.
            const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then((h) => h.ContentLength, (error: S3ServiceException) => error.name);
            return { outcome, head };
          }),
        );
        expect(answers.filter((a) => a.outcome === 'completed').length).toBeGreaterThanOrEqual(1);
        expect(answers.every((a) => (a.outcome === 'completed' || a.outcome === 'NoSuchUpload') && a.head === data.length), JSON.stringify(answers)).toBe(true);
        const stored = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        expect(md5(await stored.Body!.transformToByteArray())).toBe(md5(data));
      }
    });

    it('checks the part list on complete: InvalidPart, InvalidPartOrder, EntityTooSmall', async () => {
      const key = 'incomplete/data';
      const uploadId = await createUpload(key);
      const small = new Uint8Array(randomBytes(1024));
      const [etag1, etag2] = [await putPart(key, uploadId, 1, small), await putPart(key, uploadId, 2, small)];
      const complete = (Parts: { ETag: string; PartNumber: number }[]) =>
        s3Failure(client.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MultipartUpload: { Parts } })));

      expect(await complete([{ ETag: etag1, PartNumber: 1 }, { ETag: etag2, PartNumber: 3 }])).toEqual({ code: 'InvalidPart', status: 400 });
      expect(await complete([{ ETag: `"${'0'.repeat(32)}"`, PartNumber: 1 }])).toEqual({ code: 'InvalidPart', status: 400 });
      expect(await complete([{ ETag: etag2, PartNumber: 2 }, { ETag: etag1, PartNumber: 1 }])).toEqual({ code: 'InvalidPartOrder', status: 400 });
      expect(await complete([{ ETag: etag1, PartNumber: 1 }, { ETag: etag2, PartNumber: 2 }])).toEqual({ code: 'EntityTooSmall', status: 400 });
      // None of these completed it.
      const listed = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
      expect(listed.Parts?.length).toBe(2);
      // The part for another key is not this key's upload.
      expect(await s3Failure(client.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'other/key', UploadId: uploadId })))).toEqual({ code: 'NoSuchUpload', status: 404 });
      await client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    });
  });

  describe('UploadPartCopy (a server-side multipart copy from another bucket)', () => {
    it('copies ranges of a source object as parts: CopyPartResult ETags, listed parts, the completed object identical', async () => {
      const key = 'copied/data';
      const data = new Uint8Array(randomBytes(11 * MiB));
      await client.send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: key, Body: data }));
      const uploadId = await createUpload(key);
      const ranges = [[0, 5 * MiB - 1], [5 * MiB, 10 * MiB - 1], [10 * MiB, data.length - 1]] as const;
      const results = await Promise.all(
        ranges.map(([start, end], i) =>
          client.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: i + 1, CopySource: `${OTHER_BUCKET}/${key}`, CopySourceRange: `bytes=${start}-${end}` })),
        ),
      );
      const etags = results.map((r) => r.CopyPartResult?.ETag);
      expect(etags).toEqual(ranges.map(([start, end]) => `"${md5(data.subarray(start, end + 1))}"`));
      expect(results.every((r) => r.CopyPartResult?.LastModified instanceof Date)).toBe(true);
      const listed = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
      expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual(ranges.map(([start, end], i) => [i + 1, end - start + 1]));
      await client.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }));
      const stored = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(sha256(await stored.Body!.transformToByteArray())).toBe(sha256(data));
    });

    it('copies the whole source without a range; refuses a missing source, a bad or out-of-bounds range, and a gone upload as S3 does', async () => {
      const key = 'copied/small';
      const data = new Uint8Array(randomBytes(4096));
      await client.send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: key, Body: data }));
      const uploadId = await createUpload(key);
      const copy = (input: { CopySource?: string; CopySourceRange?: string; UploadId?: string }) =>
        client.send(new UploadPartCopyCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: `${OTHER_BUCKET}/${key}`, ...input }));
      expect((await copy({})).CopyPartResult?.ETag).toBe(`"${md5(data)}"`);
      expect(await s3Failure(copy({ CopySource: `${OTHER_BUCKET}/copied/none` }))).toEqual({ code: 'NoSuchKey', status: 404 });
      expect(await s3Failure(copy({ CopySource: `no-such-bucket/${key}` }))).toEqual({ code: 'NoSuchBucket', status: 404 });
      expect(await s3Failure(copy({ CopySourceRange: 'bytes=10-' }))).toEqual({ code: 'InvalidArgument', status: 400 });
      expect(await s3Failure(copy({ CopySourceRange: 'bytes=0-4096' }))).toEqual({ code: 'InvalidArgument', status: 400 });
      await client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
      expect(await s3Failure(copy({}))).toEqual({ code: 'NoSuchUpload', status: 404 });
    });
  });

  describe('bodies', () => {
    it('stores what was sent, never aws-chunked framing (also from a client with default checksums)', async () => {
      const body = new Uint8Array(randomBytes(300 * 1024));
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bodies/stream', Body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]), ContentLength: body.length }));
      const defaults = clientFor(s3.endpoint, { requestChecksumCalculation: 'WHEN_SUPPORTED', responseChecksumValidation: 'WHEN_SUPPORTED' });
      await defaults.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bodies/chunked', Body: Readable.from([body]), ContentLength: body.length }));
      defaults.destroy();
      // A Buffer body is hashed into x-amz-content-sha256; past 1 MiB the front spools it to check it.
      const large = new Uint8Array(randomBytes(3 * MiB));
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'bodies/large', Body: large }));
      const stored = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'bodies/large' }));
      expect(sha256(await stored.Body!.transformToByteArray())).toBe(sha256(large));
      for (const key of ['bodies/stream', 'bodies/chunked']) {
        const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        const bytes = await object.Body!.transformToByteArray();
        expect(bytes.length, key).toBe(body.length);
        expect(sha256(bytes), key).toBe(sha256(body));
        expect(Buffer.from(bytes.subarray(0, 64)).toString('latin1')).not.toMatch(/^[0-9a-f]+(;chunk-signature=[0-9a-f]+)?\r\n/);
        expect(object.ETag).toBe(`"${md5(body)}"`);
      }
    });

    it('rejects a presigned part URL carrying the CRC32 of an empty body (the WHEN_REQUIRED gotcha)', async () => {
      const key = 'bodies/gotcha';
      const uploadId = await createUpload(key);
      const defaults = clientFor(s3.endpoint, { requestChecksumCalculation: 'WHEN_SUPPORTED' });
      const url = await getSignedUrl(defaults, new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId, PartNumber: 1 }), { expiresIn: 60 });
      defaults.destroy();
      expect(url).toContain('x-amz-checksum-crc32=');
      const response = await fetch(url, { method: 'PUT', body: new Uint8Array(randomBytes(1024)) });
      expect(response.status).toBe(400);
      expect(errorCode(await response.text())).toBe('BadDigest');
      const listed = await client.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
      expect(listed.Parts ?? []).toEqual([]);
      await client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
    });

    it('answers NoSuchBucket for an unknown bucket without reading the body', async () => {
      for (let i = 0; i < 2; i++) {
        const url = await getSignedUrl(client, new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' }), { expiresIn: 60 });
        const response = await fetch(url, { method: 'PUT', body: new Uint8Array(2 * MiB) });
        expect(response.status).toBe(404);
        expect(errorCode(await response.text())).toBe('NoSuchBucket');
      }
    });

    it('deletes objects, one or several', async () => {
      for (const key of ['del/a', 'del/b', 'del/c']) await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
      await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'del/a' }));
      const many = await client.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: 'del/b' }, { Key: 'del/c' }] } }));
      expect(many.Deleted?.map((d) => d.Key).sort()).toEqual(['del/b', 'del/c']);
      const listing = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'del/' }));
      expect(listing.KeyCount).toBe(0);
      expect(await s3Failure(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'del/a' })))).toEqual({ code: 'NoSuchKey', status: 404 });
    });
  });

  it('answers CORS like the bucket rule: preflight for PUT/GET/HEAD, ETag exposed', async () => {
    const preflight = await fetch(`${s3.endpoint}/${BUCKET}/any/key`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'Content-Type' },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-methods')).toBe('PUT, GET, HEAD');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(preflight.headers.get('access-control-expose-headers')).toBe('ETag');

    const refused = await fetch(`${s3.endpoint}/${BUCKET}/any/key`, { method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'DELETE' } });
    expect(refused.status).toBe(403);

    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cors/object', Body: 'hello' }));
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'cors/object' }), { expiresIn: 60 });
    const response = await fetch(url, { headers: { Origin: 'http://app.example' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-expose-headers')).toBe('ETag');
  });

  it('keeps an in-progress upload across a restart with the same data directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyglass-local-s3-restart-'));
    const options = { dataDir: dir, buckets: [BUCKET], region: REGION, ...CREDENTIALS };
    const part = new Uint8Array(randomBytes(64 * 1024));
    let first: LocalS3 | undefined = await startLocalS3(options);
    let second: LocalS3 | undefined;
    const c1 = clientFor(first.endpoint);
    try {
      const { UploadId } = await c1.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'restart/data' }));
      const etag = (await c1.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'restart/data', UploadId, PartNumber: 1, Body: part }))).ETag;
      await first.stop();
      first = undefined;

      second = await startLocalS3(options);
      const c2 = clientFor(second.endpoint);
      const listed = await c2.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'restart/data', UploadId }));
      expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, etag, part.length]]);
      await c2.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'restart/data', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] } }));
      const object = await c2.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'restart/data' }));
      expect(sha256(await object.Body!.transformToByteArray())).toBe(sha256(part));
      c2.destroy();
    } finally {
      c1.destroy();
      await first?.stop();
      await second?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('removes its temporary directory when started without one', async () => {
    const temporary = await startLocalS3({ dataDir: null, buckets: [BUCKET], region: REGION, ...CREDENTIALS });
    const c = clientFor(temporary.endpoint);
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tmp/object', Body: 'x' }));
    c.destroy();
    await temporary.stop();
    await expect(fetch(`${temporary.endpoint}/${BUCKET}/tmp/object`)).rejects.toThrow();
  });
});
