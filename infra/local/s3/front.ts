import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CHECKSUM_ALGORITHMS, needsInspection, receiveBody, type BodyChecks, type ChecksumAlgorithm, type ReceivedBody } from './body.js';
import type { Engine } from './s3rver.js';
import { isAuthQueryParam, rfc3986, type Authenticated, type SigV4Verifier } from './sigv4.js';
import type { PartRecord, UploadRecord, UploadRegistry } from './uploads.js';
import { element, elementTexts, newRequestId, noSuchUpload, S3Error, xmlDocument } from './xml.js';

/**
 * The front: every request is authenticated (SigV4, header or presigned query) and then either
 * answered here (multipart bookkeeping s3rver lacks, CORS preflights, range edge cases) or
 * forwarded to s3rver with the client's auth replaced by s3rver's dummy account.
 */

const MIN_PART_SIZE = 5 * 1024 * 1024;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_OBJECT_SIZE = 5 * 1024 * 1024 * 1024;
const MAX_PARTS_PER_LISTING = 1000;
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;
const OWNER = `${element('ID', '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a')}${element('DisplayName', 'skyglass-local')}`;

/** Mirrors the stack's bucket CORS rule (infra/constructs/image-bucket.ts). */
const CORS = { methods: ['PUT', 'GET', 'HEAD'], exposeHeaders: ['ETag'], maxAgeSeconds: 3600 };
const CORS_VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

/** Headers that belong to one hop, or to the client's auth, and are not forwarded to s3rver. */
const REQUEST_HEADERS_NOT_FORWARDED = new Set([
  'authorization',
  'connection',
  'content-length',
  'expect',
  'host',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-decoded-content-length',
  'x-amz-security-token',
  'x-amz-trailer',
]);
const RESPONSE_HEADERS_NOT_RELAYED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'vary']);

export interface FrontDeps {
  verifier: SigV4Verifier;
  registry: UploadRegistry;
  engine: Engine;
  /** Where large bodies that must be checked before storing are spooled. */
  spoolDir: string;
}

interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  rawPath: string;
  query: [string, string][];
  bucket?: string;
  key?: string;
  requestId: string;
}

export class Front {
  // s3rver's server closes a connection after 5 s idle (Node's keepAliveTimeout); a request sent
  // on such a socket just as it closes fails with ECONNRESET (a 500 to the client). Idle sockets
  // are dropped here well before that (an agent's timeout ends only free sockets).
  private readonly agent = new Agent({ keepAlive: true, timeout: 1000 });
  /** Completes running, by upload id: a second complete of one upload waits for the first. */
  private readonly completing = new Map<string, Promise<void>>();

  constructor(private readonly deps: FrontDeps) {}

  close(): void {
    this.agent.destroy();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    res.setHeader('Server', 'AmazonS3');
    const method = (req.method ?? 'GET').toUpperCase();
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const rawPath = q < 0 ? url : url.slice(0, q);
      const query = parseQuery(q < 0 ? '' : url.slice(q + 1));
      const r: Request = { req, res, method, rawPath, query, requestId, ...parseTarget(rawPath) };
      this.applyCors(r);
      if (method === 'OPTIONS') return await this.preflight(r);
      const auth = await this.deps.verifier.verify({ method, rawPath, query, headers: joinedHeaders(req.headers) });
      await this.route(r, auth);
    } catch (error) {
      this.fail(req, res, method, requestId, error);
    }
  }

  private fail(req: IncomingMessage, res: ServerResponse, method: string, requestId: string, error: unknown): void {
    // Whatever is left of the body is read and dropped so the connection stays usable.
    req.resume();
    if (res.headersSent || res.destroyed || (req.destroyed && !req.complete)) {
      // Mid-response, or the client went away: nothing can be told to it any more.
      res.destroy();
      return;
    }
    const s3Error = error instanceof S3Error ? error : new S3Error('InternalError', 'We encountered an internal error. Please try again.');
    if (!(error instanceof S3Error)) console.error('local S3 front:', error);
    const body = Buffer.from(s3Error.toXml(requestId));
    res.writeHead(s3Error.status, { ...s3Error.headers, 'Content-Type': 'application/xml', 'Content-Length': String(body.length) });
    res.end(method === 'HEAD' ? undefined : body);
  }

  private async route(r: Request, auth: Authenticated): Promise<void> {
    const { method, bucket, key } = r;
    const has = (name: string) => r.query.some(([k]) => k === name);
    if (bucket !== undefined && key === undefined) {
      if (method === 'GET' && has('uploads')) return this.listMultipartUploads(r, bucket);
      if (method === 'POST' && has('delete')) return this.deleteObjects(r, auth, bucket);
    }
    if (bucket !== undefined && key !== undefined) {
      if (method === 'POST' && has('uploads')) return this.createMultipartUpload(r, auth, bucket, key);
      if (has('uploadId')) {
        if (method === 'PUT') return this.uploadPart(r, auth, bucket, key);
        if (method === 'GET') return this.listParts(r, bucket, key);
        if (method === 'DELETE') return this.abortMultipartUpload(r, bucket, key);
        if (method === 'POST') return this.completeMultipartUpload(r, auth, bucket, key);
      }
      if ((method === 'GET' || method === 'HEAD') && r.req.headers.range !== undefined) return this.rangedGet(r);
      if (method === 'DELETE') {
        return this.relay(r, await this.oneDeleteAtATime(() => this.forward(r, auth)));
      }
    }
    const upstream = await this.forward(r, auth);
    await this.relay(r, upstream);
  }

  // ---- CORS -------------------------------------------------------------------------------

  private applyCors(r: Request): void {
    if (r.req.headers.origin === undefined) return;
    r.res.setHeader('Vary', CORS_VARY);
    if (!CORS.methods.includes(r.method)) return;
    r.res.setHeader('Access-Control-Allow-Origin', '*');
    r.res.setHeader('Access-Control-Allow-Methods', CORS.methods.join(', '));
    r.res.setHeader('Access-Control-Expose-Headers', CORS.exposeHeaders.join(', '));
    r.res.setHeader('Access-Control-Max-Age', String(CORS.maxAgeSeconds));
  }

  private async preflight(r: Request): Promise<void> {
    const { headers } = r.req;
    if (headers.origin === undefined) throw new S3Error('BadRequest', 'Insufficient information. Origin request header needed.');
    const requested = headers['access-control-request-method'];
    if (requested === undefined) throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
    if (r.bucket === undefined || !(await this.deps.engine.bucketExists(r.bucket))) {
      throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: r.bucket ?? '' });
    }
    if (!CORS.methods.includes(requested)) {
      throw new S3Error(
        'AccessForbidden',
        'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.',
        { Method: requested, ResourceType: r.key === undefined ? 'BUCKET' : 'OBJECT' },
      );
    }
    // AllowedHeaders is '*': every requested header is allowed.
    const requestedHeaders = headers['access-control-request-headers'];
    r.res.writeHead(200, {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': CORS.methods.join(', '),
      'Access-Control-Expose-Headers': CORS.exposeHeaders.join(', '),
      'Access-Control-Max-Age': String(CORS.maxAgeSeconds),
      ...(requestedHeaders ? { 'Access-Control-Allow-Headers': requestedHeaders.toLowerCase() } : {}),
      Vary: CORS_VARY,
      'Content-Length': '0',
    });
    r.res.end();
  }

  // ---- multipart uploads -------------------------------------------------------------------

  private async createMultipartUpload(r: Request, auth: Authenticated, bucket: string, key: string): Promise<void> {
    const upstream = await this.forward(r, auth);
    if (upstream.statusCode !== 200) return this.relay(r, upstream);
    const xml = (await readAll(upstream)).toString('utf8');
    const [uploadId] = elementTexts(xml, 'UploadId');
    if (!uploadId) throw new Error(`s3rver answered CreateMultipartUpload without an UploadId: ${xml}`);
    await this.deps.registry.create(bucket, key, uploadId);
    sendXml(r, 200, xmlDocument('InitiateMultipartUploadResult', element('Bucket', bucket) + element('Key', key) + element('UploadId', uploadId)));
  }

  private requireUpload(r: Request, bucket: string, key: string): UploadRecord {
    const uploadId = queryValue(r.query, 'uploadId') ?? '';
    const upload = this.deps.registry.find(bucket, key, uploadId);
    if (!upload) throw noSuchUpload(uploadId);
    return upload;
  }

  private async uploadPart(r: Request, auth: Authenticated, bucket: string, key: string): Promise<void> {
    const raw = queryValue(r.query, 'partNumber');
    const partNumber = raw !== undefined && /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
    if (!(partNumber >= 1 && partNumber <= 10000)) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { ArgumentName: 'partNumber', ArgumentValue: raw ?? '' });
    }
    const upload = this.requireUpload(r, bucket, key);
    const copySource = r.req.headers['x-amz-copy-source'];
    if (typeof copySource === 'string') return this.uploadPartCopy(r, upload, partNumber, copySource);
    let size = 0;
    const upstream = await this.forward(r, auth, {
      query: r.query.map(([k, v]) => (k === 'partNumber' ? [k, String(partNumber)] : [k, v])),
      onBodySize: (n) => (size = n),
    });
    if (upstream.statusCode !== 200) return this.relay(r, upstream);
    await readAll(upstream);
    if (!this.deps.registry.get(upload.uploadId)) {
      // Aborted (or completed) while this part was in flight: s3rver recreated the upload's directory.
      await rm(this.deps.engine.uploadDir(bucket, upload.uploadId), { recursive: true, force: true });
      throw noSuchUpload(upload.uploadId);
    }
    const etag = upstream.headers.etag ?? '';
    await this.deps.registry.putPart(upload.uploadId, { partNumber, etag, size, lastModified: new Date().toISOString() });
    const headers: OutgoingHttpHeaders = { ETag: etag, 'Content-Length': '0' };
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const value = checksumFromRequest(r, algorithm);
      if (value !== undefined) headers[`x-amz-checksum-${algorithm}`] = value;
    }
    r.res.writeHead(200, headers);
    r.res.end();
  }

  /**
   * UploadPartCopy (PUT ?partNumber&uploadId with x-amz-copy-source): a range of another object
   * (any bucket of this S3) becomes the part, copied by the engine file to file; answered with
   * S3's CopyPartResult. Without x-amz-copy-source-range the whole source object is the part.
   */
  private async uploadPartCopy(r: Request, upload: UploadRecord, partNumber: number, header: string): Promise<void> {
    const source = parseCopySource(header);
    if (!(await this.deps.engine.bucketExists(source.bucket))) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: source.bucket });
    const size = await this.deps.engine.objectSize(source.bucket, source.key);
    if (size === undefined) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: source.key });
    const rangeHeader = r.req.headers['x-amz-copy-source-range'];
    let range = { start: 0, end: size - 1 };
    if (typeof rangeHeader === 'string') {
      const match = /^bytes=(\d+)-(\d+)$/.exec(rangeHeader.trim());
      if (!match) {
        throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', {
          ArgumentName: 'x-amz-copy-source-range',
          ArgumentValue: rangeHeader,
        });
      }
      range = { start: Number(match[1]), end: Number(match[2]) };
      if (range.end < range.start || range.end >= size) {
        throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${size}`, { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: rangeHeader });
      }
    }
    if (range.end - range.start + 1 > MAX_OBJECT_SIZE) throw new S3Error('InvalidRequest', 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120');
    r.req.resume();
    const part = await this.deps.engine.copyPart(source, range, upload.bucket, upload.uploadId, partNumber).catch((error: unknown) => {
      // The upload's directory went with an abort while the part was being copied.
      if (!this.deps.registry.get(upload.uploadId)) throw noSuchUpload(upload.uploadId);
      throw error;
    });
    if (!this.deps.registry.get(upload.uploadId)) {
      // Aborted (or completed) while the part was copied: S3 drops such a part too.
      await rm(this.deps.engine.uploadDir(upload.bucket, upload.uploadId), { recursive: true, force: true });
      throw noSuchUpload(upload.uploadId);
    }
    const lastModified = new Date().toISOString();
    await this.deps.registry.putPart(upload.uploadId, { partNumber, etag: part.etag, size: part.size, lastModified });
    sendXml(r, 200, xmlDocument('CopyPartResult', element('LastModified', lastModified) + element('ETag', part.etag)));
  }

  private listParts(r: Request, bucket: string, key: string): void {
    const upload = this.requireUpload(r, bucket, key);
    const maxParts = Math.min(integerParam(r.query, 'max-parts', MAX_PARTS_PER_LISTING), MAX_PARTS_PER_LISTING);
    const marker = integerParam(r.query, 'part-number-marker', 0);
    const remaining = this.deps.registry.sortedParts(upload).filter((p) => p.partNumber > marker);
    const page = remaining.slice(0, maxParts);
    const truncated = remaining.length > page.length;
    const next = page.length ? (page[page.length - 1] as PartRecord).partNumber : 0;
    const parts = page
      .map((p) => `<Part>${element('PartNumber', p.partNumber)}${element('LastModified', p.lastModified)}${element('ETag', p.etag)}${element('Size', p.size)}</Part>`)
      .join('');
    sendXml(
      r,
      200,
      xmlDocument(
        'ListPartsResult',
        element('Bucket', bucket) +
          element('Key', key) +
          element('UploadId', upload.uploadId) +
          `<Initiator>${OWNER}</Initiator><Owner>${OWNER}</Owner>` +
          element('StorageClass', 'STANDARD') +
          element('PartNumberMarker', marker) +
          element('NextPartNumberMarker', next) +
          element('MaxParts', maxParts) +
          element('IsTruncated', truncated) +
          parts,
      ),
    );
  }

  private async abortMultipartUpload(r: Request, bucket: string, key: string): Promise<void> {
    const upload = this.requireUpload(r, bucket, key);
    await this.deps.registry.remove(upload.uploadId);
    await rm(this.deps.engine.uploadDir(bucket, upload.uploadId), { recursive: true, force: true });
    r.res.writeHead(204);
    r.res.end();
  }

  /**
   * Completes of one upload run one at a time, as S3's do: one stores the object, and a complete
   * that finds the upload gone (NoSuchUpload) answers only once that object is there. Racing
   * assemblies wrote to the same temporary file (one's rename then failed: a 500), and a HEAD
   * between one's rename and its metadata could miss the object.
   */
  private async completeMultipartUpload(r: Request, auth: Authenticated, bucket: string, key: string): Promise<void> {
    const uploadId = queryValue(r.query, 'uploadId') ?? '';
    const previous = this.completing.get(uploadId);
    const mine = (previous ?? Promise.resolve()).catch(() => undefined).then(() => this.completeOneUpload(r, auth, bucket, key));
    this.completing.set(uploadId, mine);
    try {
      await mine;
    } finally {
      if (this.completing.get(uploadId) === mine) this.completing.delete(uploadId);
    }
  }

  private async completeOneUpload(r: Request, auth: Authenticated, bucket: string, key: string): Promise<void> {
    const upload = this.requireUpload(r, bucket, key);
    const contentLength = Number(r.req.headers['content-length'] ?? 0);
    if (contentLength > MAX_COMPLETE_BODY) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    const xml = await this.readSmallBody(r, auth);
    const requested = [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => {
      const inner = m[1] ?? '';
      const number = elementTexts(inner, 'PartNumber')[0] ?? '';
      return { partNumber: /^\d+$/.test(number) ? Number(number) : NaN, etag: elementTexts(inner, 'ETag')[0] ?? '' };
    });
    if (!/<CompleteMultipartUpload[\s>]/.test(xml) || requested.length === 0 || requested.some((p) => Number.isNaN(p.partNumber))) {
      throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    }
    const parts: PartRecord[] = [];
    for (const [i, wanted] of requested.entries()) {
      if (i > 0 && wanted.partNumber <= (requested[i - 1] as { partNumber: number }).partNumber) {
        throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.', { UploadId: upload.uploadId });
      }
      const part = upload.parts[String(wanted.partNumber)];
      if (!part || unquote(part.etag) !== unquote(wanted.etag)) {
        throw new S3Error(
          'InvalidPart',
          "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
          { UploadId: upload.uploadId, PartNumber: wanted.partNumber, ETag: wanted.etag },
        );
      }
      parts.push(part);
    }
    for (const part of parts.slice(0, -1)) {
      if (part.size < MIN_PART_SIZE) {
        throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', {
          ProposedSize: part.size,
          MinSizeAllowed: MIN_PART_SIZE,
          PartNumber: part.partNumber,
          ETag: part.etag,
        });
      }
    }
    // S3's multipart ETag: MD5 of the concatenated binary part MD5s, then "-<part count>".
    const digest = createHash('md5');
    for (const part of parts) digest.update(Buffer.from(unquote(part.etag), 'hex'));
    const etag = `${digest.digest('hex')}-${parts.length}`;

    await this.deps.engine.assemble(bucket, upload.uploadId, parts.map((p) => p.partNumber), etag);
    await this.deps.registry.remove(upload.uploadId);
    const location = `http://${r.req.headers.host ?? 'localhost'}/${rfc3986(bucket)}/${key.split('/').map(rfc3986).join('/')}`;
    sendXml(
      r,
      200,
      xmlDocument('CompleteMultipartUploadResult', element('Location', location) + element('Bucket', bucket) + element('Key', key) + element('ETag', `"${etag}"`)),
    );
  }

  private async listMultipartUploads(r: Request, bucket: string): Promise<void> {
    if (!(await this.deps.engine.bucketExists(bucket))) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    const prefix = queryValue(r.query, 'prefix') ?? '';
    const delimiter = queryValue(r.query, 'delimiter') ?? '';
    const keyMarker = queryValue(r.query, 'key-marker') ?? '';
    const uploadIdMarker = queryValue(r.query, 'upload-id-marker') ?? '';
    const maxUploads = Math.min(integerParam(r.query, 'max-uploads', 1000), 1000);

    let uploads = this.deps.registry.list(bucket).filter((u) => u.key.startsWith(prefix));
    if (keyMarker) {
      const markerIndex = uploadIdMarker ? uploads.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker) : -1;
      uploads = uploads.filter((u, i) => u.key > keyMarker || (u.key === keyMarker && markerIndex >= 0 && i > markerIndex));
    }
    const entries: ({ upload: UploadRecord } | { prefix: string })[] = [];
    const seenPrefixes = new Set<string>();
    let truncated = false;
    for (const upload of uploads) {
      const cut = delimiter ? upload.key.indexOf(delimiter, prefix.length) : -1;
      if (cut >= 0) {
        const common = upload.key.slice(0, cut + delimiter.length);
        if (seenPrefixes.has(common)) continue;
        if (entries.length >= maxUploads) {
          truncated = true;
          break;
        }
        seenPrefixes.add(common);
        entries.push({ prefix: common });
      } else {
        if (entries.length >= maxUploads) {
          truncated = true;
          break;
        }
        entries.push({ upload });
      }
    }
    const last = entries[entries.length - 1];
    const nextKey = last ? ('upload' in last ? last.upload.key : last.prefix) : '';
    const nextUploadId = last && 'upload' in last ? last.upload.uploadId : '';
    const body = entries
      .map((e) =>
        'upload' in e
          ? `<Upload>${element('Key', e.upload.key)}${element('UploadId', e.upload.uploadId)}<Initiator>${OWNER}</Initiator><Owner>${OWNER}</Owner>${element('StorageClass', 'STANDARD')}${element('Initiated', e.upload.initiated)}</Upload>`
          : `<CommonPrefixes>${element('Prefix', e.prefix)}</CommonPrefixes>`,
      )
      .join('');
    sendXml(
      r,
      200,
      xmlDocument(
        'ListMultipartUploadsResult',
        element('Bucket', bucket) +
          element('KeyMarker', keyMarker) +
          element('UploadIdMarker', uploadIdMarker) +
          element('NextKeyMarker', nextKey) +
          element('NextUploadIdMarker', nextUploadId) +
          (prefix ? element('Prefix', prefix) : '') +
          (delimiter ? element('Delimiter', delimiter) : '') +
          element('MaxUploads', maxUploads) +
          element('IsTruncated', truncated) +
          body,
      ),
    );
  }

  // ---- deletes ---------------------------------------------------------------------------

  /**
   * s3rver removes a deleted key's empty parent directories without expecting company: two
   * deletes under one prefix at once can fail with a 500. Deletes therefore run one at a time.
   */
  private deleting: Promise<unknown> = Promise.resolve();
  private oneDeleteAtATime<T>(action: () => Promise<T>): Promise<T> {
    const run = this.deleting.catch(() => undefined).then(action);
    this.deleting = run;
    return run;
  }

  /** DeleteObjects, as one DeleteObject per key (s3rver runs its own in parallel, see above). */
  private async deleteObjects(r: Request, auth: Authenticated, bucket: string): Promise<void> {
    if (!(await this.deps.engine.bucketExists(bucket))) throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    const { headers } = r.req;
    if (headers['content-md5'] === undefined && !CHECKSUM_ALGORITHMS.some((a) => checksumFromRequest(r, a) !== undefined)) {
      throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 OR x-amz-checksum-*');
    }
    if (Number(headers['content-length'] ?? 0) > MAX_COMPLETE_BODY) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    const xml = await this.readSmallBody(r, auth);
    const objects = [...xml.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((m) => elementTexts(m[1] ?? '', 'Key')[0]);
    if (!/<Delete[\s>]/.test(xml) || objects.length === 0 || objects.length > 1000 || objects.some((k) => !k)) {
      throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    }
    const quiet = elementTexts(xml, 'Quiet')[0] === 'true';
    const results: string[] = [];
    for (const key of objects as string[]) {
      const path = `/${rfc3986(bucket)}/${key.split('/').map(rfc3986).join('/')}`;
      let status: number | undefined;
      if (key.split('/').some((segment) => segment === '..' || segment === '.')) status = 400;
      else {
        const upstream = await this.oneDeleteAtATime(() => this.upstream('DELETE', path, [], {}, undefined));
        await readAll(upstream);
        status = upstream.statusCode;
      }
      if (status === 204 || status === 200) {
        if (!quiet) results.push(`<Deleted>${element('Key', key)}</Deleted>`);
      } else {
        const [code, message] = status === 400 ? ['InvalidArgument', 'Invalid key'] : ['InternalError', 'We encountered an internal error. Please try again.'];
        results.push(`<Error>${element('Key', key)}${element('Code', code)}${element('Message', message)}</Error>`);
      }
    }
    sendXml(r, 200, xmlDocument('DeleteResult', results.join('')));
  }

  private async readSmallBody(r: Request, auth: Authenticated): Promise<string> {
    const received = await receiveBody(r.req, this.bodyChecks(r, auth), this.deps.spoolDir);
    try {
      const content = received.content();
      return (Buffer.isBuffer(content) ? content : await readAll(content)).toString('utf8');
    } finally {
      await received.dispose();
    }
  }

  // ---- ranges --------------------------------------------------------------------------------

  /**
   * s3rver reads `bytes=-N` as the first N bytes and answers ranges on empty objects with 206, so
   * the front resolves the range against the object's size and forwards an absolute one.
   */
  private async rangedGet(r: Request): Promise<void> {
    const head = await this.upstream('HEAD', r.rawPath, [], { 'x-amz-date': amzNow() }, undefined);
    await readAll(head);
    const size = Number(head.headers['content-length']);
    const rangeHeader = r.req.headers.range ?? '';
    if (head.statusCode !== 200 || !Number.isSafeInteger(size)) return this.relay(r, await this.forward(r, undefined));
    const range = resolveRange(rangeHeader, size);
    if (range === 'unsatisfiable') {
      throw new S3Error('InvalidRange', 'The requested range is not satisfiable', { RangeRequested: rangeHeader, ActualObjectSize: size }, { 'Content-Range': `bytes */${size}` });
    }
    const upstream = await this.forward(r, undefined, { extraHeaders: { range: range === 'ignore' ? undefined : `bytes=${range.start}-${range.end}` } });
    await this.relay(r, upstream);
  }

  // ---- forwarding ----------------------------------------------------------------------------

  private bodyChecks(r: Request, auth: Authenticated | undefined): BodyChecks {
    const { headers } = r.req;
    const checksums: BodyChecks['checksums'] = {};
    for (const algorithm of CHECKSUM_ALGORITHMS) {
      const value = checksumFromRequest(r, algorithm);
      if (value !== undefined) checksums[algorithm] = value;
    }
    const checks: BodyChecks = { checksums };
    const payloadHash = auth?.payloadHash ?? '';
    if (/^[0-9a-f]{64}$/.test(payloadHash)) checks.sha256 = payloadHash;
    if (typeof headers['content-md5'] === 'string') checks.contentMd5 = headers['content-md5'];
    const encoding = (headers['content-encoding'] ?? '').toLowerCase();
    if (payloadHash.startsWith('STREAMING-') || encoding.split(',').some((e) => e.trim() === 'aws-chunked')) {
      const decoded = String(headers['x-amz-decoded-content-length'] ?? '');
      const decodedLength = /^\d+$/.test(decoded) ? Number(decoded) : undefined;
      if (payloadHash === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' && auth?.mode === 'header') {
        checks.awsChunked = { decodedLength, chunkSignature: this.deps.verifier.chunkSigner(auth.signingDate), seedSignature: auth.signature };
      } else if (payloadHash === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' || payloadHash === 'UNSIGNED-PAYLOAD' || !payloadHash.startsWith('STREAMING-')) {
        checks.awsChunked = { decodedLength };
      } else {
        throw new S3Error('NotImplemented', `The local S3 emulator does not implement x-amz-content-sha256: ${payloadHash}`);
      }
    }
    return checks;
  }

  /**
   * Sends the request on to s3rver. The body is streamed through when there is nothing to check,
   * else received whole and checked first (see body.ts).
   */
  private async forward(
    r: Request,
    auth: Authenticated | undefined,
    options: {
      query?: [string, string][];
      body?: Buffer;
      extraHeaders?: Record<string, string | undefined>;
      onBodySize?: (size: number) => void;
    } = {},
  ): Promise<IncomingMessage> {
    const { req } = r;
    const headers: OutgoingHttpHeaders = {};
    for (const [name, values] of Object.entries(req.headersDistinct)) {
      if (!values || REQUEST_HEADERS_NOT_FORWARDED.has(name) || name.startsWith('proxy-')) continue;
      headers[name] = values.length === 1 ? values[0] : values;
    }
    const encoding = typeof headers['content-encoding'] === 'string' ? headers['content-encoding'] : undefined;
    if (encoding !== undefined) {
      const kept = encoding
        .split(',')
        .map((e) => e.trim())
        .filter((e) => e && e.toLowerCase() !== 'aws-chunked');
      if (kept.length) headers['content-encoding'] = kept.join(', ');
      else delete headers['content-encoding'];
    }
    for (const [name, value] of Object.entries(options.extraHeaders ?? {})) {
      if (value === undefined) delete headers[name];
      else headers[name] = value;
    }
    const query = (options.query ?? r.query).filter(([k]) => !isAuthQueryParam(k) && k.toLowerCase() !== 'x-amz-security-token');

    let body: Buffer | Readable | undefined = options.body;
    let received: ReceivedBody | undefined;
    const declared = req.headers['content-length'];
    const hasBody = declared !== undefined ? Number(declared) > 0 : req.headers['transfer-encoding'] !== undefined;
    if (body === undefined && hasBody) {
      // s3rver answers NoSuchBucket without reading the body and then drops the connection; say it here.
      if (r.bucket !== undefined && !(await this.deps.engine.bucketExists(r.bucket))) {
        throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: r.bucket });
      }
      // S3 wants a length: the body's, or for aws-chunked bodies (sent with Transfer-Encoding: chunked by the SDK) the decoded one.
      if (declared === undefined && req.headers['x-amz-decoded-content-length'] === undefined && (r.method === 'PUT' || r.method === 'POST')) {
        throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
      }
      if (Number(declared) > MAX_OBJECT_SIZE) {
        throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', { ProposedSize: declared ?? '', MaxSizeAllowed: MAX_OBJECT_SIZE });
      }
      const checks = this.bodyChecks(r, auth);
      if (needsInspection(checks)) {
        received = await receiveBody(req, checks, this.deps.spoolDir);
        options.onBodySize?.(received.length);
        headers['content-length'] = String(received.length);
        body = received.content();
      } else {
        headers['content-length'] = declared;
        let counted = 0;
        body = req.pipe(
          new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              counted += chunk.length;
              callback(null, chunk);
            },
            flush(callback) {
              options.onBodySize?.(counted);
              callback();
            },
          }),
        );
        const counter = body;
        req.once('close', () => {
          if (!req.complete) counter.destroy(new Error('client went away before the body ended'));
        });
      }
    } else if (body !== undefined) {
      headers['content-length'] = String(body.length);
      options.onBodySize?.(body.length);
    } else {
      if (auth && /^[0-9a-f]{64}$/.test(auth.payloadHash) && auth.payloadHash !== EMPTY_SHA256) {
        throw new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
          ClientComputedContentSHA256: auth.payloadHash,
          S3ComputedContentSHA256: EMPTY_SHA256,
        });
      }
      options.onBodySize?.(0);
    }
    try {
      return await this.upstream(r.method, r.rawPath, query, headers, body);
    } finally {
      await received?.dispose();
    }
  }

  /** One request to s3rver, authorized as its built-in account (s3rver does not check V4 signatures). */
  private upstream(method: string, rawPath: string, query: [string, string][], headers: OutgoingHttpHeaders, body: Buffer | Readable | undefined): Promise<IncomingMessage> {
    const { host, port } = this.deps.engine;
    const search = query.map(([k, v]) => (v === '' ? rfc3986(k) : `${rfc3986(k)}=${rfc3986(v)}`)).join('&');
    const date = amzNow();
    const outgoing: OutgoingHttpHeaders = {
      ...headers,
      host: `${host}:${port}`,
      'x-amz-date': date,
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      authorization: `AWS4-HMAC-SHA256 Credential=S3RVER/${date.slice(0, 8)}/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=0`,
    };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const up = httpRequest({ host, port, method, path: search ? `${rawPath}?${search}` : rawPath, headers: outgoing, agent: this.agent });
      up.once('response', resolve);
      up.once('error', reject);
      if (body === undefined) up.end();
      else if (Buffer.isBuffer(body)) up.end(body);
      else {
        // If s3rver answers before reading the whole body (an error), the answer is what counts:
        // only a request that fails without one is an error.
        pipeline(body, up).catch(() => undefined);
      }
    });
  }

  /** Streams s3rver's answer back, with the front's own CORS and request-id headers. */
  private async relay(r: Request, upstream: IncomingMessage): Promise<void> {
    const headers: OutgoingHttpHeaders = {};
    for (const [name, values] of Object.entries(upstream.headersDistinct)) {
      if (!values || RESPONSE_HEADERS_NOT_RELAYED.has(name) || name.startsWith('access-control-')) continue;
      headers[name] = values.length === 1 ? values[0] : values;
    }
    // s3rver may answer an error before reading the whole body; drop the rest so the connection stays usable.
    if (!r.req.complete) r.req.resume();
    r.res.writeHead(upstream.statusCode ?? 502, headers);
    await pipeline(upstream, r.res);
  }
}

// ---- helpers ---------------------------------------------------------------------------------

function parseQuery(raw: string): [string, string][] {
  const out: [string, string][] = [];
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    out.push([safeDecode(key), safeDecode(value)]);
  }
  return out;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
  }
}

/** Path-style addressing: `/bucket/key…`. */
function parseTarget(rawPath: string): { bucket?: string; key?: string } {
  const match = /^\/([^/]+)(?:\/(.*))?$/.exec(rawPath);
  if (!match) return {};
  const bucket = safeDecode(match[1] as string);
  const key = match[2] ? safeDecode(match[2]) : undefined;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', { BucketName: bucket });
  // s3rver stores keys as file paths; keep them inside its directory.
  if (key !== undefined && key.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.");
  }
  return key === undefined ? { bucket } : { bucket, key };
}

/** `x-amz-copy-source`: `bucket/key` (URL-encoded, a leading `/` allowed; a versionId ignored: no versioning here). */
function parseCopySource(header: string): { bucket: string; key: string } {
  const path = header.trim().replace(/^\//, '').replace(/\?versionId=.*$/, '');
  const slash = path.indexOf('/');
  const bucket = slash > 0 ? safeDecode(path.slice(0, slash)) : '';
  const key = slash > 0 ? safeDecode(path.slice(slash + 1)) : '';
  if (!bucket || !key || key.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw new S3Error('InvalidArgument', 'Invalid copy source object key', { ArgumentName: 'x-amz-copy-source', ArgumentValue: header });
  }
  return { bucket, key };
}

function queryValue(query: [string, string][], name: string): string | undefined {
  return query.find(([k]) => k === name)?.[1];
}

function integerParam(query: [string, string][], name: string, fallback: number): number {
  const raw = queryValue(query, name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2147483647) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { ArgumentName: name, ArgumentValue: raw });
  }
  return Number(raw);
}

function checksumFromRequest(r: Request, algorithm: ChecksumAlgorithm): string | undefined {
  const name = `x-amz-checksum-${algorithm}`;
  const header = r.req.headers[name];
  if (typeof header === 'string') return header;
  return r.query.find(([k]) => k.toLowerCase() === name)?.[1];
}

function joinedHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

function unquote(etag: string): string {
  return etag.replace(/"/g, '').trim();
}

function amzNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

function sendXml(r: Request, status: number, xml: string): void {
  const body = Buffer.from(xml);
  r.res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': String(body.length) });
  r.res.end(body);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A single `bytes=` range resolved against the object size, as S3 does: unsatisfiable when it
 * starts past the end (or the object is empty); ignored (whole object, 200) when malformed or
 * when several ranges are asked for.
 */
export function resolveRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | 'ignore' {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return 'ignore';
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return 'ignore';
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return 'ignore';
  if (start >= size) return 'unsatisfiable';
  return { start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
