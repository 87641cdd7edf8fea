import { randomBytes } from 'node:crypto';

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Status codes S3 gives its error codes (only those this front raises itself). */
const STATUS: Record<string, number> = {
  AccessDenied: 403,
  AccessForbidden: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BadRequest: 400,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  InvalidToken: 400,
  InvalidURI: 400,
  MalformedXML: 400,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
  RequestTimeTooSkewed: 403,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
};

/** An error answered in S3's XML shape (`<Error><Code>…`), with S3's status for the code. */
export class S3Error extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message: string,
    readonly detail: Record<string, string | number> = {},
    /** Extra response headers (e.g. `Content-Range` on 416). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = STATUS[code] ?? 500;
  }

  toXml(requestId: string): string {
    const detail = Object.entries(this.detail)
      .map(([name, value]) => element(name, value))
      .join('');
    return `${XML_DECLARATION}<Error>${element('Code', this.code)}${element('Message', this.message)}${detail}${element('RequestId', requestId)}${element('HostId', hostId())}</Error>`;
  }
}

export const noSuchUpload = (uploadId: string): S3Error =>
  new S3Error('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', {
    UploadId: uploadId,
  });

export function escapeXml(value: string | number | boolean): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

export function unescapeXml(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    const e = entity.toLowerCase();
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e] as string;
  });
}

export function element(name: string, value: string | number | boolean): string {
  return `<${name}>${escapeXml(value)}</${name}>`;
}

/** A document whose root element carries S3's namespace. */
export function xmlDocument(root: string, inner: string): string {
  return `${XML_DECLARATION}<${root} xmlns="${S3_XMLNS}">${inner}</${root}>`;
}

/** Every `<name>…</name>` text in `xml` (flat elements only), unescaped. */
export function elementTexts(xml: string, name: string): string[] {
  const re = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>`, 'g');
  return [...xml.matchAll(re)].map((m) => unescapeXml((m[1] ?? '').trim()));
}

export function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function hostId(): string {
  return randomBytes(24).toString('base64');
}
