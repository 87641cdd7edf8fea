import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { S3_CLIENT_DEFAULTS, S3BlobStore } from '../../shared/adapters/s3-blob-store.js';
import { UploadGoneError } from '../../shared/ports/blob-store.js';

const KEY = 'images/0b8f4f6e-2f0b-4c2f-9a51-0d5c1c7b6a10/data';

const refusal = (status: number, name: string) =>
  new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });

type Answer = Record<string, unknown> | S3ServiceException;

/**
 * A real S3Client whose requests never leave the process: a middleware at the first step
 * answers each command from `answers` (by command name) and records what was asked, so the
 * adapter is exercised through the SDK's own command and error types.
 */
function storeAnswering(answers: Record<string, Answer>): { store: S3BlobStore; asked: string[] } {
  const s3 = new S3Client({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, ...S3_CLIENT_DEFAULTS });
  const asked: string[] = [];
  s3.middlewareStack.add(
    (_next, context) => async () => {
      const command = String(context.commandName);
      asked.push(command);
      const answer = answers[command];
      if (answer === undefined) throw new Error(`unexpected ${command}`);
      if (answer instanceof S3ServiceException) throw answer;
      return { output: { $metadata: {}, ...answer }, response: {} };
    },
    { step: 'initialize', name: 'answerInProcess' },
  );
  return { store: new S3BlobStore(s3, 'skyglass-images'), asked };
}

describe('S3BlobStore.read: a missing object', () => {
  it('is undefined when S3 says 404', async () => {
    const { store } = storeAnswering({ GetObjectCommand: refusal(404, 'NoSuchKey') });
    expect(await store.read(KEY)).toBeUndefined();
  });

  it('is undefined when S3 hides it behind 403 and a prefix listing shows it is not there', async () => {
    const { store, asked } = storeAnswering({
      GetObjectCommand: refusal(403, 'AccessDenied'),
      ListObjectsV2Command: { Contents: [{ Key: `${KEY}-other` }] },
    });
    expect(await store.read(KEY)).toBeUndefined();
    expect(asked).toEqual(['GetObjectCommand', 'ListObjectsV2Command']);
  });

  it('stays a refusal when the listing shows the object is there', async () => {
    const { store } = storeAnswering({ GetObjectCommand: refusal(403, 'AccessDenied'), ListObjectsV2Command: { Contents: [{ Key: KEY }] } });
    await expect(store.read(KEY)).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('stays the original refusal when the caller may not list either', async () => {
    const { store } = storeAnswering({ GetObjectCommand: refusal(403, 'AccessDenied'), ListObjectsV2Command: refusal(403, 'ListDenied') });
    await expect(store.read(KEY)).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('does not list on other failures', async () => {
    const { store, asked } = storeAnswering({ GetObjectCommand: refusal(503, 'SlowDown') });
    await expect(store.read(KEY)).rejects.toMatchObject({ name: 'SlowDown' });
    expect(asked).toEqual(['GetObjectCommand']);
  });
});

describe('S3BlobStore.uploadPart', () => {
  it("returns the part's ETag", async () => {
    const { store, asked } = storeAnswering({ UploadPartCommand: { ETag: '"abc"' } });
    expect(await store.uploadPart(KEY, 'u1', 1, new Uint8Array(3))).toBe('"abc"');
    expect(asked).toEqual(['UploadPartCommand']);
  });

  it('says the upload is gone when S3 no longer knows it', async () => {
    const { store } = storeAnswering({ UploadPartCommand: refusal(404, 'NoSuchUpload') });
    await expect(store.uploadPart(KEY, 'u1', 1, new Uint8Array(3))).rejects.toBeInstanceOf(UploadGoneError);
  });
});

describe('S3BlobStore.uploadPart: what goes on the wire', () => {
  it('signs the part as UNSIGNED-PAYLOAD, with no flexible checksum: the streaming front hashes each byte only for MD5 and SHA-512', async () => {
    const sent: Record<string, string>[] = [];
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      ...S3_CLIENT_DEFAULTS,
      // The SDK's full stack down to the HTTP handler, which answers as S3 does.
      requestHandler: {
        handle: async (request: { headers: Record<string, string> }) => {
          sent.push(request.headers);
          return { response: { statusCode: 200, headers: { etag: '"abc"' }, body: Readable.from([]) } };
        },
      },
    });
    const store = new S3BlobStore(s3, 'skyglass-images');
    expect(await store.uploadPart(KEY, 'u1', 1, new Uint8Array(3))).toBe('"abc"');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(sent[0]?.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=a\//);
    expect(Object.keys(sent[0] ?? {}).filter((h) => h.startsWith('x-amz-checksum-'))).toEqual([]);
  });
});
