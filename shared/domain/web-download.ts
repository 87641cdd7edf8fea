import { BlockList, isIP } from 'node:net';
import { badRequest } from './errors.js';

/**
 * web-download's URI filtering: Glance's `import_filtering_opts` (glance/common/utils.py
 * get_validated_address) plus the address ranges a fetcher inside a cloud must never reach.
 * Pure: DNS resolution happens in the fetcher, which hands the resolved addresses to
 * `pickAddress` and connects to the address it returns (so a second lookup cannot rebind it).
 */
export interface ImportFilter {
  /** Glance's allowed_schemes (default http, https). When non-empty, disallowed_schemes is ignored. */
  readonly allowedSchemes: readonly string[];
  readonly disallowedSchemes: readonly string[];
  /** Glance's allowed_hosts / disallowed_hosts (default empty: any host). Allowed wins when both are set. */
  readonly allowedHosts: readonly string[];
  readonly disallowedHosts: readonly string[];
  /** Glance's allowed_ports (default 80, 443) / disallowed_ports. Allowed wins when both are set. */
  readonly allowedPorts: readonly number[];
  readonly disallowedPorts: readonly number[];
  /**
   * Skyglass's own setting: reach loopback, private, link-local, CGNAT and metadata addresses.
   * Off by default (a fetcher in a VPC would otherwise reach the instance metadata service and
   * internal services); tests and `npm start` turn it on to fetch from 127.0.0.1.
   */
  readonly allowPrivateAddresses: boolean;
  /**
   * Reach loopback only (127.0.0.0/8, ::1), every other refused range staying refused: what the
   * local runtime turns on (SKYGLASS_IMPORT_ALLOW_LOOPBACK) so tests and `npm start` fetch from
   * 127.0.0.1. Never set in AWS.
   */
  readonly allowLoopback: boolean;
}

export const DEFAULT_IMPORT_FILTER: ImportFilter = {
  allowedSchemes: ['http', 'https'],
  disallowedSchemes: [],
  allowedHosts: [],
  disallowedHosts: [],
  allowedPorts: [80, 443],
  disallowedPorts: [],
  allowPrivateAddresses: false,
  allowLoopback: false,
};

/** Whatever the filter says, the fetcher speaks only these (Glance's other schemes are not offered). */
const FETCHABLE_SCHEMES = ['http', 'https'];

/** A URI that passed the scheme, host and port rules: what the fetcher resolves and connects to. */
export interface CheckedUri {
  readonly url: URL;
  readonly scheme: 'http' | 'https';
  /** Lower-cased host name, or a normalized IP address (IPv6 without brackets). */
  readonly host: string;
  /** The port to connect to: the URI's, or the scheme's default. */
  readonly port: number;
}

/** Why a URI or an address may not be fetched; the message goes into `os_skyglass_failure`. */
export class UriRefusedError extends Error {
  override readonly name = 'UriRefusedError';
}

/** The uri of a web-download import request: Glance answers 400 when it is missing or does not pass. */
export function webDownloadUri(method: Record<string, unknown>, filter: ImportFilter): CheckedUri {
  const uri = method.uri;
  try {
    if (typeof uri !== 'string' || uri === '') throw new UriRefusedError('empty external URI');
    return checkUri(uri, filter);
  } catch (error) {
    if (error instanceof UriRefusedError) throw badRequest(`URI for web-download does not pass filtering: ${String(uri ?? 'None')}`);
    throw error;
  }
}

/** Glance's scheme, host and port rules, in Glance's order. Throws UriRefusedError. */
export function checkUri(uri: string, filter: ImportFilter): CheckedUri {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new UriRefusedError(`not a URI: ${uri}`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  const allowedSchemes = filter.allowedSchemes.length > 0 ? filter.allowedSchemes : null;
  const schemeRefused = allowedSchemes ? !allowedSchemes.includes(scheme) : filter.disallowedSchemes.includes(scheme);
  if (schemeRefused || !FETCHABLE_SCHEMES.includes(scheme)) throw new UriRefusedError(`scheme not allowed for external URI: ${uri}`);
  if (url.username || url.password) throw new UriRefusedError(`credentials in an external URI are not accepted: ${url.host}`);

  const host = normalizeHost(url.hostname);
  const allowedHosts = filter.allowedHosts.length > 0 ? filter.allowedHosts.map(normalizeHost) : null;
  const hostRefused = allowedHosts ? !allowedHosts.includes(host) : filter.disallowedHosts.map(normalizeHost).includes(host);
  if (!host || hostRefused) throw new UriRefusedError(`host not allowed for external URI: ${uri}`);

  // WHATWG URL drops a port equal to the scheme's default, so the default port is checked too
  // (Glance checks only an explicit one; with Glance's default ports both answers agree).
  const port = url.port ? Number(url.port) : scheme === 'https' ? 443 : 80;
  const allowedPorts = filter.allowedPorts.length > 0 ? filter.allowedPorts : null;
  const portRefused = allowedPorts ? !allowedPorts.includes(port) : filter.disallowedPorts.includes(port);
  if (portRefused) throw new UriRefusedError(`port not allowed for external URI: ${uri}`);

  return { url, scheme: scheme as 'http' | 'https', host, port };
}

function normalizeHost(host: string): string {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return bare;
}

/**
 * Ranges a fetcher never reaches unless `allowPrivateAddresses`: unspecified, loopback, RFC 1918
 * and unique-local, link-local (which holds 169.254.169.254, the instance metadata service),
 * CGNAT, and EC2's IPv6 metadata address. Built on the first address checked, not at import:
 * only a web-download fetch checks one, and every data function bundles this module.
 */
let refusedRanges: BlockList | undefined;
const REFUSED_RANGES = (): BlockList => (refusedRanges ??= refused());

function refused(): BlockList {
  const list = new BlockList();
  list.addSubnet('0.0.0.0', 8, 'ipv4');
  list.addSubnet('127.0.0.0', 8, 'ipv4');
  list.addSubnet('10.0.0.0', 8, 'ipv4');
  list.addSubnet('172.16.0.0', 12, 'ipv4');
  list.addSubnet('192.168.0.0', 16, 'ipv4');
  list.addSubnet('169.254.0.0', 16, 'ipv4');
  list.addSubnet('100.64.0.0', 10, 'ipv4');
  list.addAddress('::', 'ipv6');
  list.addAddress('::1', 'ipv6');
  list.addSubnet('fc00::', 7, 'ipv6');
  list.addSubnet('fe80::', 10, 'ipv6');
  list.addAddress('fd00:ec2::254', 'ipv6');
  return list;
}

let loopback: BlockList | undefined;
const LOOPBACK = (): BlockList => {
  if (!loopback) {
    loopback = new BlockList();
    loopback.addSubnet('127.0.0.0', 8, 'ipv4');
    loopback.addAddress('::1', 'ipv6');
  }
  return loopback;
};

/** Why an address is refused, or null when the fetcher may connect to it. */
export function addressRefusal(address: string, filter: ImportFilter): string | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const checked = mapped ?? address.replace(/%.*$/, '');
  const family = isIP(checked);
  if (family === 0) return `not an IP address: ${address}`;
  const disallowed = filter.allowedHosts.length === 0 ? filter.disallowedHosts.map(normalizeHost) : [];
  if (disallowed.includes(checked)) return `address not allowed for external URI: ${address}`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (filter.allowLoopback && LOOPBACK().check(checked, type)) return null;
  if (!filter.allowPrivateAddresses && REFUSED_RANGES().check(checked, type)) {
    return `address ${address} is in a loopback, private, link-local, CGNAT or metadata range`;
  }
  return null;
}

/**
 * The address to connect to among those DNS gave for `host`: the first one allowed (as Glance's
 * resolve_pinned_address). Throws UriRefusedError when none is.
 */
export function pickAddress(host: string, addresses: readonly string[], filter: ImportFilter): string {
  const reasons: string[] = [];
  for (const address of addresses) {
    const refusal = addressRefusal(address, filter);
    if (refusal === null) return address;
    reasons.push(refusal);
  }
  throw new UriRefusedError(`no allowed addresses for external host ${host}${reasons.length ? `: ${reasons.join('; ')}` : ''}`);
}

/**
 * The filter from settings: Glance's option names upper-cased with a SKYGLASS_IMPORT_ prefix
 * (comma lists, e.g. SKYGLASS_IMPORT_ALLOWED_PORTS=80,443,8080); an unset option keeps
 * Glance's default, an empty one clears it. SKYGLASS_IMPORT_ALLOW_PRIVATE_ADDRESSES=true
 * lets the fetcher reach loopback and private ranges; SKYGLASS_IMPORT_ALLOW_LOOPBACK=true loopback
 * only (the local runtime's default, for tests and `npm start`).
 */
export function importFilterFrom(env: Readonly<Record<string, string | undefined>>): ImportFilter {
  const list = (name: string, fallback: readonly string[]) => {
    const value = env[`SKYGLASS_IMPORT_${name}`];
    return value === undefined ? fallback : value.split(',').map((s) => s.trim()).filter(Boolean);
  };
  const ports = (name: string, fallback: readonly number[]) =>
    list(name, fallback.map(String)).map((p) => {
      const port = Number(p);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`SKYGLASS_IMPORT_${name}: ${p} is not a port`);
      return port;
    });
  const d = DEFAULT_IMPORT_FILTER;
  return {
    allowedSchemes: list('ALLOWED_SCHEMES', d.allowedSchemes),
    disallowedSchemes: list('DISALLOWED_SCHEMES', d.disallowedSchemes),
    allowedHosts: list('ALLOWED_HOSTS', d.allowedHosts),
    disallowedHosts: list('DISALLOWED_HOSTS', d.disallowedHosts),
    allowedPorts: ports('ALLOWED_PORTS', d.allowedPorts),
    disallowedPorts: ports('DISALLOWED_PORTS', d.disallowedPorts),
    allowPrivateAddresses: env.SKYGLASS_IMPORT_ALLOW_PRIVATE_ADDRESSES === 'true',
    allowLoopback: env.SKYGLASS_IMPORT_ALLOW_LOOPBACK === 'true',
  };
}

/** Limits of one web-download fetch (the fetcher's settings). */
export interface FetchLimits {
  /** Glance's image_size_cap: a source declaring or sending more fails (default 1 TiB, as Glance). */
  readonly maxBytes: number;
  /**
   * The whole fetch, from the import's start (ImportFetch.started_at) over every fetcher run,
   * redirects and retries included (default 24 h: the bucket's lifecycle rule aborts an
   * incomplete multipart upload a day or more after it started, infra/constructs/image-bucket.ts,
   * so a longer fetch could lose its upload).
   */
  readonly timeoutSeconds: number;
  /**
   * One fetcher invocation's budget (default 840 s, below the fetcher's 15-minute Lambda
   * timeout): a resumable source stops starting ranges before it ends and the next run goes
   * on; any other source must be fetched whole within it.
   */
  readonly runSeconds: number;
  /** A connection that sends nothing for this long is dropped (and retried). */
  readonly idleSeconds: number;
  /** Redirects followed, each re-checked against the filter. */
  readonly maxRedirects: number;
  /** Attempts for a transient failure (connection lost, 5xx), with backoff between them. */
  readonly attempts: number;
  /** The bytes fetched are written on the import's task each time this many more have arrived (not per part). */
  readonly progressEveryBytes: number;
}

export const DEFAULT_FETCH_LIMITS: FetchLimits = {
  maxBytes: 1024 ** 4,
  timeoutSeconds: 24 * 3600,
  runSeconds: 840,
  idleSeconds: 60,
  maxRedirects: 5,
  attempts: 3,
  progressEveryBytes: 256 * 1024 ** 2,
};

/**
 * Fetcher runs one import may take: each run is about seven events of its execution's history
 * (the Fetch task's four, its Choice's two, and the state's exit), and Step Functions ends an
 * execution at 25,000 events, so 3,000 runs (21,000 events) leave room for retries. With the
 * defaults (24 h, 840 s) an import needs at most 103 runs; only settings far from them get here.
 */
export const MAX_FETCH_RUNS = 3000;

/**
 * SKYGLASS_IMPORT_MAX_BYTES, SKYGLASS_IMPORT_TIMEOUT_SECONDS, SKYGLASS_FETCH_RUN_SECONDS and
 * SKYGLASS_IMPORT_PROGRESS_BYTES; unset, the defaults. A run budget of 900 s or more is refused:
 * the fetcher's Lambda would be ended before it stopped.
 */
export function fetchLimitsFrom(env: Readonly<Record<string, string | undefined>>): FetchLimits {
  const positive = (name: string, fallback: number) => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: ${value} is not a positive integer`);
    return n;
  };
  const runSeconds = positive('SKYGLASS_FETCH_RUN_SECONDS', DEFAULT_FETCH_LIMITS.runSeconds);
  if (runSeconds >= LAMBDA_MAX_SECONDS) throw new Error(`SKYGLASS_FETCH_RUN_SECONDS: ${runSeconds} is not below the fetcher's ${LAMBDA_MAX_SECONDS} s Lambda timeout`);
  return {
    ...DEFAULT_FETCH_LIMITS,
    maxBytes: positive('SKYGLASS_IMPORT_MAX_BYTES', DEFAULT_FETCH_LIMITS.maxBytes),
    timeoutSeconds: positive('SKYGLASS_IMPORT_TIMEOUT_SECONDS', DEFAULT_FETCH_LIMITS.timeoutSeconds),
    runSeconds,
    progressEveryBytes: positive('SKYGLASS_IMPORT_PROGRESS_BYTES', DEFAULT_FETCH_LIMITS.progressEveryBytes),
  };
}

/** Lambda's longest timeout, the fetcher's (infra/constructs/image-workflows.ts). */
const LAMBDA_MAX_SECONDS = 900;

/** A fetch failure worth another attempt (connection lost, timeout, the server's 5xx or 429). */
export class TransientFetchError extends Error {
  override readonly name = 'TransientFetchError';
}
