import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressRefusal, checkUri, pickAddress, TransientFetchError, UriRefusedError, type CheckedUri, type ImportFilter } from '../domain/web-download.js';

/** An answer whose body the caller reads; `done` settles once the connection has closed. */
export interface SourceResponse {
  readonly url: URL;
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: IncomingMessage;
  /** Rejects when the connection failed after the body (e.g. more bytes than Content-Length). */
  readonly closed: Promise<void>;
}

/**
 * GET of a web-download source with the address pinned: DNS is asked once per connection, the
 * answer is checked (pickAddress) and the socket connects to exactly the checked address, so a
 * second lookup cannot rebind the name to a refused one. IP-literal hosts (which Node never
 * looks up) are checked directly. Redirects are followed up to `maxRedirects`, each target
 * checked against the filter again. No connection is reused (one socket per request), so bytes
 * past a response's Content-Length are a parse error on that request, not the next one's.
 */
export async function getPinned(uri: CheckedUri, filter: ImportFilter, options: { maxRedirects: number; idleMs: number; headers?: Record<string, string> }): Promise<SourceResponse> {
  let target = uri;
  for (let redirects = 0; ; redirects++) {
    const response = await getOnce(target, filter, options);
    const location = response.headers.location;
    if (response.status < 300 || response.status > 399 || response.status === 304 || !location) return response;
    response.body.resume();
    if (redirects >= options.maxRedirects) throw new UriRefusedError(`more than ${options.maxRedirects} redirects from ${uri.url.href}`);
    let next: URL;
    try {
      next = new URL(location, target.url);
    } catch {
      throw new UriRefusedError(`redirect to an invalid location: ${location}`);
    }
    target = checkUri(next.href, filter);
  }
}

async function getOnce(uri: CheckedUri, filter: ImportFilter, options: { idleMs: number; headers?: Record<string, string> }): Promise<SourceResponse> {
  if (isIP(uri.host)) {
    const refusal = addressRefusal(uri.host, filter);
    if (refusal) throw new UriRefusedError(refusal);
  }
  // node:http is loaded for an http:// source only: an https fetch never needs it (node:https,
  // which the AWS SDK loads anyway, has its own client), and loading it at import cost the
  // fetcher about a quarter of its cold import.
  const request = uri.scheme === 'https' ? httpsRequest : (await import('node:http')).request;
  const settings: RequestOptions = {
    method: 'GET',
    agent: false,
    lookup: pinnedLookup(filter),
    timeout: options.idleMs,
    headers: { 'User-Agent': 'skyglass-web-download', Connection: 'close', ...options.headers },
  };
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    let closed!: () => void;
    let closeFailed!: (error: Error) => void;
    const closedPromise = new Promise<void>((ok, fail) => {
      closed = ok;
      closeFailed = fail;
    });
    closedPromise.catch(() => undefined);
    const req = request(uri.url, settings, (res) => {
      resolve({ url: uri.url, status: res.statusCode ?? 0, headers: res.headers, body: res, closed: closedPromise });
    });
    req.on('timeout', () => req.destroy(new TransientFetchError(`no data from ${uri.host} for ${Math.round(options.idleMs / 1000)} s`)));
    req.on('error', (error) => {
      failure ??= classify(error);
      reject(failure);
    });
    req.on('close', () => (failure ? closeFailed(failure) : closed()));
    req.end();
  });
}

/** Node's `lookup` option: every address DNS gives, the first allowed one connected to. */
function pinnedLookup(filter: ImportFilter): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      let address: string;
      try {
        address = pickAddress(hostname, addresses.map((a) => a.address), filter);
      } catch (refused) {
        return callback(refused as NodeJS.ErrnoException, '', 0);
      }
      const family = isIP(address);
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [{ address, family }]);
      else callback(null, address, family);
    });
  };
}

/** What a failed request was: refused (never retried), transient, or final (a parse error, an unknown host). */
function classify(error: Error & { code?: string }): Error {
  if (error instanceof UriRefusedError || error instanceof TransientFetchError) return error;
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_NONAME') return new Error(`host ${error.message.replace(/^getaddrinfo \w+ /, '')} does not resolve`);
  if (error.code?.startsWith('HPE_')) return new Error(`the server's answer is not valid HTTP (${error.code}): it sent more bytes than its Content-Length, or garbage`);
  return new TransientFetchError(`${error.code ?? error.name}: ${error.message}`);
}
