import { describe, expect, it } from 'vitest';
import { GlanceError } from '../../shared/domain/errors.js';
import {
  addressRefusal,
  checkUri,
  DEFAULT_FETCH_LIMITS,
  DEFAULT_IMPORT_FILTER,
  fetchLimitsFrom,
  importFilterFrom,
  MAX_FETCH_RUNS,
  pickAddress,
  UriRefusedError,
  webDownloadUri,
  type ImportFilter,
} from '../../shared/domain/web-download.js';

const filter = (extra: Partial<ImportFilter> = {}): ImportFilter => ({ ...DEFAULT_IMPORT_FILTER, ...extra });
const refusal = (uri: string, f: ImportFilter = filter()) => {
  try {
    checkUri(uri, f);
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(UriRefusedError);
    return (error as Error).message;
  }
};

describe("web-download's URI filtering (shared/domain/web-download.ts, Glance's import_filtering_opts)", () => {
  it('accepts http and https on ports 80 and 443 by default, and says where to connect', () => {
    expect(checkUri('http://example.com/a.img', filter())).toMatchObject({ scheme: 'http', host: 'example.com', port: 80 });
    expect(checkUri('https://Example.COM:443/a.img', filter())).toMatchObject({ scheme: 'https', host: 'example.com', port: 443 });
    expect(checkUri('http://[2001:db8::1]/x', filter())).toMatchObject({ host: '2001:db8::1', port: 80 });
  });

  it('refuses other schemes, even when the operator allows them (the fetcher speaks only http/https)', () => {
    expect(refusal('ftp://example.com/a.img')).toMatch(/^scheme not allowed/);
    expect(refusal('file:///etc/passwd')).toMatch(/^scheme not allowed/);
    expect(refusal('ftp://example.com/a', filter({ allowedSchemes: ['ftp'] }))).toMatch(/^scheme not allowed/);
    expect(refusal('https://example.com/a', filter({ allowedSchemes: ['http'] }))).toMatch(/^scheme not allowed/);
    expect(refusal('not a uri')).toMatch(/^not a URI/);
  });

  it('applies disallowed_schemes only when allowed_schemes is empty, as Glance', () => {
    expect(refusal('http://example.com/', filter({ allowedSchemes: [], disallowedSchemes: ['http'] }))).toMatch(/^scheme not allowed/);
    expect(refusal('http://example.com/', filter({ allowedSchemes: ['http'], disallowedSchemes: ['http'] }))).toBeNull();
  });

  it('applies allowed_hosts, else disallowed_hosts', () => {
    expect(refusal('http://other.org/', filter({ allowedHosts: ['example.com'] }))).toMatch(/^host not allowed/);
    expect(refusal('http://EXAMPLE.com./', filter({ allowedHosts: ['example.com'] }))).toBeNull();
    expect(refusal('http://bad.org/', filter({ disallowedHosts: ['bad.org'] }))).toMatch(/^host not allowed/);
    expect(refusal('http://bad.org/', filter({ allowedHosts: ['bad.org'], disallowedHosts: ['bad.org'] }))).toBeNull();
  });

  it('applies allowed_ports (default 80, 443), else disallowed_ports', () => {
    expect(refusal('http://example.com:8080/')).toMatch(/^port not allowed/);
    expect(refusal('http://example.com:8080/', filter({ allowedPorts: [8080] }))).toBeNull();
    expect(refusal('http://example.com/', filter({ allowedPorts: [8080] }))).toMatch(/^port not allowed/);
    expect(refusal('http://example.com:8080/', filter({ allowedPorts: [], disallowedPorts: [8080] }))).toMatch(/^port not allowed/);
    expect(refusal('http://example.com:9000/', filter({ allowedPorts: [], disallowedPorts: [8080] }))).toBeNull();
  });

  it('refuses credentials in the URI', () => {
    expect(refusal('http://user:secret@example.com/')).toMatch(/credentials/);
  });

  it("answers a missing or refused uri with Glance's 400", () => {
    for (const method of [{ name: 'web-download' }, { name: 'web-download', uri: '' }, { name: 'web-download', uri: 42 }, { name: 'web-download', uri: 'ftp://x/y' }]) {
      let caught: unknown;
      try {
        webDownloadUri(method, filter());
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(method)).toBeInstanceOf(GlanceError);
      expect((caught as GlanceError).status).toBe(400);
      expect((caught as GlanceError).message).toMatch(/^URI for web-download does not pass filtering: /);
    }
    expect(webDownloadUri({ name: 'web-download', uri: 'https://example.com/a.img' }, filter()).host).toBe('example.com');
  });
});

describe('the addresses a fetcher may connect to', () => {
  const refused = ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '::1', '::', 'fd00:ec2::254', 'fc00::1', 'fe80::1', 'fe80::1%eth0', '::ffff:127.0.0.1', '::ffff:169.254.169.254'];
  const public_ = ['93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:2800:220:1::1', '::ffff:93.184.216.34'];

  it('refuses loopback, private, link-local, CGNAT and metadata ranges by default', () => {
    for (const address of refused) expect(addressRefusal(address, filter()), address).toMatch(/loopback, private, link-local, CGNAT or metadata/);
    for (const address of public_) expect(addressRefusal(address, filter()), address).toBeNull();
  });

  it('reaches them only when the operator allows private addresses', () => {
    for (const address of refused) expect(addressRefusal(address, filter({ allowPrivateAddresses: true })), address).toBeNull();
  });

  it('refuses an address listed in disallowed_hosts', () => {
    expect(addressRefusal('93.184.216.34', filter({ disallowedHosts: ['93.184.216.34'] }))).toMatch(/not allowed/);
  });

  it('picks the first allowed address DNS gave, or refuses the host', () => {
    expect(pickAddress('h', ['127.0.0.1', '93.184.216.34', '1.1.1.1'], filter())).toBe('93.184.216.34');
    expect(() => pickAddress('h', ['127.0.0.1', '10.0.0.1'], filter())).toThrow(/no allowed addresses for external host h: address 127\.0\.0\.1/);
    expect(() => pickAddress('h', [], filter())).toThrow(UriRefusedError);
    expect(pickAddress('localhost', ['127.0.0.1'], filter({ allowPrivateAddresses: true }))).toBe('127.0.0.1');
  });
});

describe('the filter from settings', () => {
  it("keeps Glance's defaults when unset, reads comma lists, and turns private addresses on only explicitly", () => {
    expect(importFilterFrom({})).toEqual(DEFAULT_IMPORT_FILTER);
    const f = importFilterFrom({ SKYGLASS_IMPORT_ALLOWED_PORTS: '80, 8080', SKYGLASS_IMPORT_ALLOWED_HOSTS: 'a.org,b.org', SKYGLASS_IMPORT_ALLOW_PRIVATE_ADDRESSES: 'true' });
    expect(f).toMatchObject({ allowedPorts: [80, 8080], allowedHosts: ['a.org', 'b.org'], allowPrivateAddresses: true });
    expect(importFilterFrom({ SKYGLASS_IMPORT_ALLOWED_PORTS: '' }).allowedPorts).toEqual([]);
    expect(importFilterFrom({ SKYGLASS_IMPORT_ALLOW_PRIVATE_ADDRESSES: '1' }).allowPrivateAddresses).toBe(false);
    expect(() => importFilterFrom({ SKYGLASS_IMPORT_DISALLOWED_PORTS: 'http' })).toThrow(/not a port/);
  });
});

describe('loopback only (SKYGLASS_IMPORT_ALLOW_LOOPBACK, the local runtime\'s setting)', () => {
  it('reaches 127.0.0.0/8 and ::1, and nothing else of the refused ranges', () => {
    const f = importFilterFrom({ SKYGLASS_IMPORT_ALLOW_LOOPBACK: 'true' });
    expect(f.allowLoopback).toBe(true);
    for (const address of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) expect(addressRefusal(address, f), address).toBeNull();
    for (const address of ['169.254.169.254', '10.0.0.1', '192.168.1.1', '100.64.0.1', 'fd00:ec2::254', '::ffff:a9fe:a9fe', '0.0.0.0']) {
      expect(addressRefusal(address, f), address).toMatch(/range/);
    }
    expect(importFilterFrom({}).allowLoopback).toBe(false);
    expect(importFilterFrom({ SKYGLASS_IMPORT_ALLOW_LOOPBACK: 'yes' }).allowLoopback).toBe(false);
  });
});

describe('fetch limits from settings', () => {
  it("defaults to Glance's image_size_cap (1 TiB), runs below Lambda's 15 minutes and a whole fetch of 24 h; refuses nonsense", () => {
    expect(fetchLimitsFrom({})).toEqual(DEFAULT_FETCH_LIMITS);
    expect(DEFAULT_FETCH_LIMITS).toMatchObject({ maxBytes: 1099511627776, runSeconds: 840, timeoutSeconds: 86400 });
    expect(fetchLimitsFrom({ SKYGLASS_IMPORT_MAX_BYTES: '1000', SKYGLASS_IMPORT_TIMEOUT_SECONDS: '60', SKYGLASS_FETCH_RUN_SECONDS: '30' })).toMatchObject({ maxBytes: 1000, timeoutSeconds: 60, runSeconds: 30 });
    expect(() => fetchLimitsFrom({ SKYGLASS_IMPORT_MAX_BYTES: '-1' })).toThrow(/SKYGLASS_IMPORT_MAX_BYTES: -1 is not a positive integer/);
    expect(() => fetchLimitsFrom({ SKYGLASS_FETCH_RUN_SECONDS: '1.5' })).toThrow(/SKYGLASS_FETCH_RUN_SECONDS: 1.5 is not a positive integer/);
    // A run must end (and record itself) before the Lambda's 900 s timeout ends it.
    expect(() => fetchLimitsFrom({ SKYGLASS_FETCH_RUN_SECONDS: '900' })).toThrow(/not below the fetcher's 900 s Lambda timeout/);
  });

  it('bounds the fetcher runs of one import within Step Functions\' 25,000 history events (about seven a run)', () => {
    expect(MAX_FETCH_RUNS * 7).toBeLessThan(25_000);
    // With the defaults the whole-fetch limit ends an import long before that: 103 runs.
    expect(Math.ceil(DEFAULT_FETCH_LIMITS.timeoutSeconds / DEFAULT_FETCH_LIMITS.runSeconds)).toBe(103);
  });
});
