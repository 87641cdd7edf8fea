import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { receiveBody } from '../../infra/local/s3/body.js';
import { resolveRange } from '../../infra/local/s3/front.js';
import { SigV4Verifier, type IncomingSigned } from '../../infra/local/s3/sigv4.js';
import type { S3Error } from '../../infra/local/s3/xml.js';

// The worked examples of the S3 SigV4 documentation ("Signature Calculations for the
// Authorization Header", "Query String Authentication", "Transferring Payload in Multiple Chunks").
const AWS_EXAMPLE = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const MINUTE_AFTER = Date.UTC(2013, 4, 24, 0, 1);
const verifier = (now = MINUTE_AFTER) => new SigV4Verifier(AWS_EXAMPLE, 'us-east-1', () => now);

const presignedGet: IncomingSigned = {
  method: 'GET',
  rawPath: '/test.txt',
  query: [
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request'],
    ['X-Amz-Date', '20130524T000000Z'],
    ['X-Amz-Expires', '86400'],
    ['X-Amz-SignedHeaders', 'host'],
    ['X-Amz-Signature', 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404'],
  ],
  headers: { host: 'examplebucket.s3.amazonaws.com' },
};

const headerGet: IncomingSigned = {
  method: 'GET',
  rawPath: '/test.txt',
  query: [],
  headers: {
    host: 'examplebucket.s3.amazonaws.com',
    range: 'bytes=0-9',
    'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'x-amz-date': '20130524T000000Z',
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  },
};

const chunkedPut: IncomingSigned = {
  method: 'PUT',
  rawPath: '/examplebucket/chunkObject.txt',
  query: [],
  headers: {
    host: 's3.amazonaws.com',
    'content-encoding': 'aws-chunked',
    'content-length': '66824',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'x-amz-date': '20130524T000000Z',
    'x-amz-decoded-content-length': '66560',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  },
};

const chunkedBody = Buffer.concat([
  Buffer.from('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'),
  Buffer.alloc(65536, 'a'),
  Buffer.from('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'),
  Buffer.alloc(1024, 'a'),
  Buffer.from('\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'),
]);

async function code(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'accepted',
    (error: S3Error) => error.code,
  );
}

async function* pieces(data: Buffer, size: number) {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe('local S3 SigV4 verifier', () => {
  it('accepts the documented presigned URL and header-signed GET', async () => {
    await expect(verifier().verify(presignedGet)).resolves.toMatchObject({ mode: 'query', accessKeyId: AWS_EXAMPLE.accessKeyId, payloadHash: 'UNSIGNED-PAYLOAD' });
    await expect(verifier().verify(headerGet)).resolves.toMatchObject({ mode: 'header', payloadHash: headerGet.headers['x-amz-content-sha256'] });
  });

  it('refuses what the signature does not cover as signed', async () => {
    expect(await code(verifier().verify({ ...headerGet, headers: { ...headerGet.headers, range: 'bytes=0-99' } }))).toBe('SignatureDoesNotMatch');
    expect(await code(verifier().verify({ ...headerGet, rawPath: '/test2.txt' }))).toBe('SignatureDoesNotMatch');
    expect(await code(verifier().verify({ ...presignedGet, query: [...presignedGet.query, ['partNumber', '2']] }))).toBe('SignatureDoesNotMatch');
    expect(await code(verifier().verify({ ...presignedGet, method: 'PUT' }))).toBe('SignatureDoesNotMatch');
    expect(await code(verifier().verify({ ...presignedGet, headers: { host: 'other.s3.amazonaws.com' } }))).toBe('SignatureDoesNotMatch');
    // Headers the client did not sign may change freely.
    expect(await code(verifier().verify({ ...presignedGet, headers: { ...presignedGet.headers, origin: 'http://x', 'user-agent': 'y' } }))).toBe('accepted');
  });

  it('refuses x-amz-* headers that are not signed (AccessDenied, naming them); x-amz-content-sha256 may go unsigned', async () => {
    const unsigned = async (request: IncomingSigned) =>
      verifier().verify(request).then(
        () => 'accepted',
        (error: S3Error) => `${error.code}: ${error.message} [${error.detail.HeadersNotSigned ?? ''}]`,
      );
    const notSigned = (names: string) => `AccessDenied: There were headers present in the request which were not signed [${names}]`;
    expect(await unsigned({ ...presignedGet, headers: { ...presignedGet.headers, 'x-amz-acl': 'public-read' } })).toBe(notSigned('x-amz-acl'));
    expect(
      await unsigned({
        ...presignedGet,
        headers: { ...presignedGet.headers, 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key-md5': 'x' },
      }),
    ).toBe(notSigned('x-amz-server-side-encryption-customer-algorithm, x-amz-server-side-encryption-customer-key-md5'));
    expect(await unsigned({ ...headerGet, headers: { ...headerGet.headers, 'x-amz-meta-a': 'b' } })).toBe(notSigned('x-amz-meta-a'));
    expect(await unsigned({ ...presignedGet, headers: { ...presignedGet.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } })).toBe('accepted');
  });

  it('applies time limits: URL expiry, clock skew for header auth', async () => {
    expect(await code(verifier(Date.UTC(2013, 4, 25, 0, 0, 1)).verify(presignedGet))).toBe('AccessDenied');
    expect(await code(verifier(Date.UTC(2013, 4, 23, 23, 0)).verify(presignedGet))).toBe('AccessDenied');
    expect(await code(verifier(Date.UTC(2013, 4, 24, 0, 20)).verify(headerGet))).toBe('RequestTimeTooSkewed');
  });

  it('checks the credential scope and the mechanism', async () => {
    expect(await code(new SigV4Verifier(AWS_EXAMPLE, 'eu-west-1', () => MINUTE_AFTER).verify(headerGet))).toBe('AuthorizationHeaderMalformed');
    expect(await code(new SigV4Verifier({ ...AWS_EXAMPLE, accessKeyId: 'OTHER' }, 'us-east-1', () => MINUTE_AFTER).verify(presignedGet))).toBe('InvalidAccessKeyId');
    expect(await code(new SigV4Verifier({ ...AWS_EXAMPLE, secretAccessKey: 'other' }, 'us-east-1', () => MINUTE_AFTER).verify(presignedGet))).toBe('SignatureDoesNotMatch');
    expect(await code(verifier().verify({ ...headerGet, headers: { host: 'examplebucket.s3.amazonaws.com' } }))).toBe('AccessDenied');
    expect(await code(verifier().verify({ ...presignedGet, headers: headerGet.headers }))).toBe('InvalidArgument');
    expect(await code(verifier().verify({ ...presignedGet, query: presignedGet.query.filter(([k]) => k !== 'X-Amz-Expires') }))).toBe('AuthorizationQueryParametersError');
    const { 'x-amz-content-sha256': _, ...withoutHash } = headerGet.headers;
    expect(await code(verifier().verify({ ...headerGet, headers: withoutHash }))).toBe('InvalidRequest');
  });

  it('verifies every chunk signature of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body', async () => {
    const v = verifier();
    const auth = await v.verify(chunkedPut);
    if (auth.mode !== 'header') throw new Error('expected header auth');
    const checks = { checksums: {}, awsChunked: { decodedLength: 66560, chunkSignature: v.chunkSigner(auth.signingDate), seedSignature: auth.signature } };
    expect(chunkedBody.length).toBe(66824);
    const body = await receiveBody(pieces(chunkedBody, 7000), checks, '/nonexistent');
    expect(body.length).toBe(66560);
    expect(Buffer.alloc(66560, 'a').equals(body.content() as Buffer)).toBe(true);

    const tampered = Buffer.from(chunkedBody);
    tampered[5000] = 'b'.charCodeAt(0);
    expect(await code(receiveBody(pieces(tampered, 7000), checks, '/nonexistent'))).toBe('SignatureDoesNotMatch');
  });

  it('checks payload hashes, Content-MD5 and flexible checksums of the content', async () => {
    const data = Buffer.from('some image bytes');
    const sha256 = createHash('sha256').update(data).digest('hex');
    const md5 = createHash('md5').update(data).digest('base64');
    const ok = await receiveBody(pieces(data, 3), { sha256, contentMd5: md5, checksums: { sha256: createHash('sha256').update(data).digest('base64') } }, '/nonexistent');
    expect(ok.content()).toEqual(data);
    expect(await code(receiveBody(pieces(data, 3), { sha256: sha256.replace(/^./, '0'), checksums: {} }, '/nonexistent'))).toBe('XAmzContentSHA256Mismatch');
    expect(await code(receiveBody(pieces(data, 3), { contentMd5: createHash('md5').update('x').digest('base64'), checksums: {} }, '/nonexistent'))).toBe('BadDigest');
    // CRC32 of the empty body, what a default-configured SDK writes into presigned part URLs.
    expect(await code(receiveBody(pieces(data, 3), { checksums: { crc32: 'AAAAAA==' } }, '/nonexistent'))).toBe('BadDigest');
    // CRC32C check value of "123456789" is 0xE3069283.
    expect(await code(receiveBody(pieces(Buffer.from('123456789'), 2), { checksums: { crc32c: Buffer.from('e3069283', 'hex').toString('base64') } }, '/nonexistent'))).toBe('accepted');
  });
});

describe('local S3 range resolution', () => {
  it('resolves single ranges against the size as S3 does', () => {
    expect(resolveRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(resolveRange('bytes=90-200', 100)).toEqual({ start: 90, end: 99 });
    expect(resolveRange('bytes=10-', 100)).toEqual({ start: 10, end: 99 });
    expect(resolveRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(resolveRange('bytes=-1000', 100)).toEqual({ start: 0, end: 99 });
    expect(resolveRange('bytes=100-', 100)).toBe('unsatisfiable');
    expect(resolveRange('bytes=0-0', 0)).toBe('unsatisfiable');
    expect(resolveRange('bytes=-0', 100)).toBe('unsatisfiable');
    expect(resolveRange('bytes=5-1', 100)).toBe('ignore');
    expect(resolveRange('bytes=0-1,5-6', 100)).toBe('ignore');
    expect(resolveRange('items=0-1', 100)).toBe('ignore');
  });
});
