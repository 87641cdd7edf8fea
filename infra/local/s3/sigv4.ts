import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { S3Error } from './xml.js';

/**
 * SigV4 verification for the local S3 front, in both forms S3 accepts: the `Authorization`
 * header (SDK calls) and the presigned query (`X-Amz-Signature` …). The request is rebuilt from
 * what arrived, limited to the headers the client says it signed, and signed again with
 * `@smithy/signature-v4` at the client's date; the two signatures are compared in constant time.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What the verifier needs of an incoming request. */
export interface IncomingSigned {
  method: string;
  /** Raw path as received, still percent-encoded. */
  rawPath: string;
  /** Decoded query parameters in arrival order (a key without `=` has value ''). */
  query: [string, string][];
  /** Lower-cased header names; repeated headers joined with ','. */
  headers: Record<string, string>;
}

export type Authenticated =
  | { mode: 'header'; accessKeyId: string; payloadHash: string; signature: string; signingDate: Date }
  | { mode: 'query'; accessKeyId: string; payloadHash: string; expiresAt: Date };

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const ALGORITHM = 'AWS4-HMAC-SHA256';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** S3 tolerates this much clock difference for header-signed requests (and not-yet-valid URLs). */
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_EXPIRES_SECONDS = 7 * 24 * 60 * 60;
/** The presigned-URL parameters that are the signature itself, not part of what it covers. */
const AUTH_QUERY_PARAMS = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature'];

export function isAuthQueryParam(name: string): boolean {
  return AUTH_QUERY_PARAMS.includes(name.toLowerCase());
}

/** node:crypto behind the `Checksum` constructor shape `@smithy/signature-v4` expects. */
export class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** RFC 3986 encoding, as SigV4 canonicalises (same as the SDK's `escapeUri`). */
export function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** S3 does not double-encode the path: each segment is decoded once and re-encoded canonically. */
function canonicalPath(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => {
      try {
        return rfc3986(decodeURIComponent(segment));
      } catch {
        return segment;
      }
    })
    .join('/');
}

function parseAmzDate(value: string | undefined): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function signatureMismatch(accessKeyId: string): S3Error {
  return new S3Error(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    { AWSAccessKeyId: accessKeyId },
  );
}

export class SigV4Verifier {
  private readonly signer: SignatureV4;

  constructor(
    private readonly credentials: Credentials,
    private readonly region: string,
    private readonly now: () => number = Date.now,
  ) {
    this.signer = new SignatureV4({
      service: 's3',
      region,
      credentials,
      sha256: NodeSha256,
      // S3 signs the path as sent (no second encoding) and takes the payload hash from its header.
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /** Throws an `S3Error` unless the request carries a valid signature for the configured key. */
  async verify(request: IncomingSigned): Promise<Authenticated> {
    const queryKeys = new Set(request.query.map(([k]) => k));
    const authorization = request.headers.authorization;
    const presigned = queryKeys.has('X-Amz-Algorithm') || queryKeys.has('X-Amz-Signature');
    if (queryKeys.has('Signature') || queryKeys.has('AWSAccessKeyId') || /^AWS /.test(authorization ?? '')) {
      throw new S3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    }
    // Only long-term keys are configured, so any session token is one this S3 did not issue.
    if (queryKeys.has('X-Amz-Security-Token') || request.headers['x-amz-security-token'] !== undefined) {
      throw new S3Error('InvalidToken', 'The provided token is malformed or otherwise invalid.');
    }
    if (authorization !== undefined && presigned) {
      throw new S3Error(
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
        { ArgumentName: 'Authorization', ArgumentValue: authorization },
      );
    }
    if (authorization !== undefined) return this.verifyHeader(request, authorization);
    if (presigned) return this.verifyQuery(request);
    throw new S3Error('AccessDenied', 'Access Denied');
  }

  /**
   * For STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies: the signature a chunk must carry, chained from
   * the previous chunk's (the request's own signature for the first).
   */
  chunkSigner(signingDate: Date): (previousSignature: string, chunkSha256: string) => Promise<string> {
    const longDate = signingDate.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
    const scope = `${longDate.slice(0, 8)}/${this.region}/s3/aws4_request`;
    return (previousSignature, chunkSha256) =>
      this.signer.sign([`${ALGORITHM}-PAYLOAD`, longDate, scope, previousSignature, EMPTY_SHA256, chunkSha256].join('\n'), { signingDate });
  }

  private checkScope(scope: string, date: Date, malformed: (message: string) => S3Error): string {
    const [accessKeyId = '', day, region, service, terminator, ...rest] = scope.split('/');
    if (rest.length || !day || !region || !service || !terminator) throw malformed(`the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
    if (!sameSecret(accessKeyId, this.credentials.accessKeyId)) {
      throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
    }
    if (day !== date.toISOString().slice(0, 10).replace(/-/g, '')) throw malformed(`Invalid credential date "${day}". This date is not the same as X-Amz-Date: "${date.toISOString().slice(0, 10).replace(/-/g, '')}".`);
    if (region !== this.region) throw malformed(`the region '${region}' is wrong; expecting '${this.region}'`);
    if (service !== 's3') throw malformed(`the service '${service}' is wrong; expecting 's3'`);
    if (terminator !== 'aws4_request') throw malformed(`the Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'.`);
    return accessKeyId;
  }

  /**
   * The signed headers as the client sent them (a listed header that is absent cannot verify).
   * Every x-amz-* header present must be among them, as S3 requires: an unsigned one would let
   * whoever holds a URL or a signed request add an ACL, SSE-C keys, metadata or a copy source.
   * x-amz-content-sha256 is the exception S3 makes (presigned URLs leave it out; its value is
   * checked against the body anyway).
   */
  private signedHeaderValues(request: IncomingSigned, list: string, accessKeyId: string): { names: string[]; headers: Record<string, string> } {
    const names = list.split(';');
    if (!names.includes('host') || names.some((n) => n !== n.toLowerCase() || n === '')) throw signatureMismatch(accessKeyId);
    const notSigned = Object.keys(request.headers).filter((n) => n.startsWith('x-amz-') && n !== 'x-amz-content-sha256' && !names.includes(n));
    if (notSigned.length > 0) {
      throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { HeadersNotSigned: notSigned.sort().join(', ') });
    }
    const headers: Record<string, string> = {};
    for (const name of names) {
      const value = request.headers[name];
      if (value === undefined) throw signatureMismatch(accessKeyId);
      headers[name] = value;
    }
    return { names, headers };
  }

  private canonicalQuery(request: IncomingSigned, dropAuth: boolean): Record<string, string | string[]> {
    const query: Record<string, string | string[]> = {};
    for (const [key, value] of request.query) {
      if (dropAuth && isAuthQueryParam(key)) continue;
      const existing = query[key];
      query[key] = existing === undefined ? value : ([] as string[]).concat(existing, value);
    }
    return query;
  }

  private async verifyHeader(request: IncomingSigned, authorization: string): Promise<Authenticated> {
    const malformed = (message: string) => new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`);
    const match = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(authorization);
    if (!match) throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { ArgumentName: 'Authorization', ArgumentValue: authorization });
    const parts = new Map(
      (match[1] ?? '').split(',').map((component) => {
        const [name = '', ...value] = component.trim().split('=');
        return [name, value.join('=')] as const;
      }),
    );
    const credential = parts.get('Credential');
    const signedHeaders = parts.get('SignedHeaders');
    const signature = parts.get('Signature');
    if (!credential || !signedHeaders || !signature) {
      throw malformed('the authorization header requires three components: Credential, SignedHeaders, and Signature.');
    }
    const date = parseAmzDate(request.headers['x-amz-date']);
    if (!date) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
    const accessKeyId = this.checkScope(credential, date, malformed);
    const payloadHash = request.headers['x-amz-content-sha256'];
    if (payloadHash === undefined) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    if (!/^(UNSIGNED-PAYLOAD|STREAMING-[A-Z0-9-]+|[0-9a-f]{64})$/.test(payloadHash)) {
      throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.', {
        ArgumentName: 'x-amz-content-sha256',
        ArgumentValue: payloadHash,
      });
    }
    const skew = Math.abs(this.now() - date.getTime());
    if (skew > MAX_SKEW_MS) {
      throw new S3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
        RequestTime: request.headers['x-amz-date'] ?? '',
        ServerTime: new Date(this.now()).toISOString(),
        MaxAllowedSkewMilliseconds: MAX_SKEW_MS,
      });
    }
    const { names, headers } = this.signedHeaderValues(request, signedHeaders, accessKeyId);
    const unsignable = new Set<string>();
    if (!names.includes('x-amz-content-sha256')) {
      // The signer reads the payload hash from this header; keep it out of the canonical headers.
      headers['x-amz-content-sha256'] = payloadHash;
      unsignable.add('x-amz-content-sha256');
    }
    const signed = await this.signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: 'localhost',
        path: canonicalPath(request.rawPath),
        query: this.canonicalQuery(request, false),
        headers,
      },
      { signingDate: date, signableHeaders: new Set(names), unsignableHeaders: unsignable },
    );
    const expected = /SignedHeaders=([^,]*), Signature=([0-9a-f]+)/.exec(signed.headers.authorization ?? '');
    if (!expected || expected[1] !== signedHeaders || !sameSecret(expected[2] ?? '', signature)) throw signatureMismatch(accessKeyId);
    return { mode: 'header', accessKeyId, payloadHash, signature, signingDate: date };
  }

  private async verifyQuery(request: IncomingSigned): Promise<Authenticated> {
    const param = (name: string) => request.query.find(([k]) => k === name)?.[1];
    const malformed = (message: string) => new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${message}`);
    const missing = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'].filter((n) => param(n) === undefined);
    if (missing.length) {
      throw new S3Error(
        'AuthorizationQueryParametersError',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    if (param('X-Amz-Algorithm') !== ALGORITHM) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    const date = parseAmzDate(param('X-Amz-Date'));
    if (!date) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
    const expiresRaw = param('X-Amz-Expires') ?? '';
    const expires = /^\d+$/.test(expiresRaw) ? Number(expiresRaw) : NaN;
    if (!Number.isSafeInteger(expires)) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
    if (expires > MAX_EXPIRES_SECONDS) throw new S3Error('AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
    const accessKeyId = this.checkScope(param('X-Amz-Credential') ?? '', date, malformed);
    const now = this.now();
    const expiresAt = new Date(date.getTime() + expires * 1000);
    if (date.getTime() - now > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet', { ServerTime: new Date(now).toISOString() });
    if (now > expiresAt.getTime()) {
      throw new S3Error('AccessDenied', 'Request has expired', {
        'X-Amz-Expires': expiresRaw,
        Expires: expiresAt.toISOString().replace(/\.\d+Z$/, 'Z'),
        ServerTime: new Date(now).toISOString().replace(/\.\d+Z$/, 'Z'),
      });
    }
    const { names, headers } = this.signedHeaderValues(request, param('X-Amz-SignedHeaders') ?? '', accessKeyId);
    // Presigned URLs sign no payload unless they say otherwise (the SDK hoists UNSIGNED-PAYLOAD into the query).
    const payloadHash =
      request.query.find(([k]) => k.toLowerCase() === 'x-amz-content-sha256')?.[1] ?? (names.includes('x-amz-content-sha256') ? headers['x-amz-content-sha256'] : undefined) ?? UNSIGNED_PAYLOAD;
    const unsignable = new Set<string>();
    if (!names.includes('x-amz-content-sha256')) {
      headers['x-amz-content-sha256'] = payloadHash;
      unsignable.add('x-amz-content-sha256');
    }
    const presigned = await this.signer.presign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: 'localhost',
        path: canonicalPath(request.rawPath),
        query: this.canonicalQuery(request, true),
        headers,
      },
      {
        signingDate: date,
        expiresIn: expires,
        signableHeaders: new Set(names),
        unsignableHeaders: unsignable,
        // Signed x-amz-* headers stay headers: they were sent as headers.
        unhoistableHeaders: new Set(Object.keys(headers)),
      },
    );
    const expectedSignature = presigned.query?.['X-Amz-Signature'];
    if (presigned.query?.['X-Amz-SignedHeaders'] !== param('X-Amz-SignedHeaders') || typeof expectedSignature !== 'string' || !sameSecret(expectedSignature, param('X-Amz-Signature') ?? '')) {
      throw signatureMismatch(accessKeyId);
    }
    return { mode: 'query', accessKeyId, payloadHash, expiresAt };
  }
}
