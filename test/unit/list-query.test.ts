import { sampleImage } from '../support/sample-image.js';
import { describe, expect, it } from 'vitest';
import { GlanceError } from '../../shared/domain/errors.js';
import type { Image } from '../../shared/domain/image.js';
import {
  compareCodePoints,
  compareImages,
  listLinks,
  matchesListFilters,
  parseIsoTime,
  parseListQuery,
  parseQueryString,
  quotePlus,
  splitInValues,
  type ListQuery,
  type QueryParams,
  type SortKey,
} from '../../shared/domain/list-query.js';

const q = (params: QueryParams): ListQuery => parseListQuery(params);

function expect400(params: QueryParams, message: string): void {
  let error: unknown;
  try {
    parseListQuery(params);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(GlanceError);
  expect((error as GlanceError).status).toBe(400);
  expect((error as GlanceError).message).toBe(message);
}

let seq = 0;
function image(overrides: Partial<Image> = {}): Image {
  seq += 1;
  return sampleImage({
    id: `00000000-0000-0000-0000-${String(seq).padStart(12, '0')}`,
    name: `image-${seq}`,
    status: 'active',
    size: 100,
    disk_format: 'raw',
    container_format: 'bare',
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    ...overrides,
  });
}

const matches = (img: Image, params: QueryParams) => matchesListFilters(img, q(params));

describe('parseListQuery: limit and marker', () => {
  it('defaults to 25, no marker, default sort', () => {
    const r = q({});
    expect(r.limit).toBe(25);
    expect(r.marker).toBeNull();
    expect(r.sort).toEqual([{ key: 'created_at', dir: 'desc' }, { key: 'id', dir: 'desc' }]);
    expect(r.isDefaultSort).toBe(true);
    expect(r.visibility).toBeNull();
    expect(r.owner).toBeNull();
    expect(r.filters.os_hidden).toBe(false);
    expect(r.filters.member_status).toBe('accepted');
    expect(r.filters.properties).toEqual({});
  });

  it('clamps to 1000, allows 0 and Python int forms', () => {
    expect(q({ limit: ['5000'] }).limit).toBe(1000);
    expect(q({ limit: ['1000'] }).limit).toBe(1000);
    expect(q({ limit: ['999'] }).limit).toBe(999);
    expect(q({ limit: ['0'] }).limit).toBe(0);
    expect(q({ limit: ['-0'] }).limit).toBe(0);
    expect(q({ limit: ['+5'] }).limit).toBe(5);
    expect(q({ limit: [' 7 '] }).limit).toBe(7);
    expect(q({ limit: ['1_0'] }).limit).toBe(10);
    expect(q({ limit: ['9'.repeat(40)] }).limit).toBe(1000);
  });

  it('rejects negative and non-integer limits', () => {
    expect400({ limit: ['-1'] }, 'limit param must be positive');
    expect400({ limit: ['abc'] }, 'limit param must be an integer');
    expect400({ limit: ['5.0'] }, 'limit param must be an integer');
    expect400({ limit: [''] }, 'limit param must be an integer');
  });

  it('uses the first limit / marker when repeated (webob pop)', () => {
    expect(q({ limit: ['3', '-1'] }).limit).toBe(3);
    const r = q({ marker: ['m1', 'm2'] });
    expect(r.marker).toBe('m1');
    expect(q({ marker: [''] }).marker).toBe('');
  });

  it('reads a UUID marker and id filter in lower case (ids have one spelling), anything else as sent', () => {
    const id = '6B1E3D0A-7C2F-4E5A-9D8B-0F1E2D3C4B5A';
    expect(q({ marker: [id] }).marker).toBe(id.toLowerCase());
    expect(q({ marker: ['Not-A-UUID'] }).marker).toBe('Not-A-UUID');
    expect(q({ id: [id] }).filters.id).toEqual({ op: 'eq', value: id.toLowerCase() });
    expect(q({ id: [`in:${id},X`] }).filters.id).toEqual({ op: 'in', values: [id.toLowerCase(), 'X'] });
  });
});

describe('parseListQuery: sorting', () => {
  it('parses the new syntax, direction defaulting to desc', () => {
    expect(q({ sort: ['name:asc,created_at'] }).sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'created_at', dir: 'desc' },
      { key: 'id', dir: 'desc' },
    ]);
    expect(q({ sort: [' name : asc , size:desc '] }).sort.slice(0, 2)).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'size', dir: 'desc' },
    ]);
    expect(q({ sort: ['name:'] }).sort[0]).toEqual({ key: 'name', dir: 'desc' });
  });

  it('appends created_at and id with the single direction given (Glance image_get_all)', () => {
    expect(q({ sort: ['name:asc'] }).sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'created_at', dir: 'asc' },
      { key: 'id', dir: 'asc' },
    ]);
    expect(q({ sort: ['name'] }).sort).toEqual([
      { key: 'name', dir: 'desc' },
      { key: 'created_at', dir: 'desc' },
      { key: 'id', dir: 'desc' },
    ]);
    // several directions: tie-breakers are desc
    expect(q({ sort: ['name:asc,size:asc'] }).sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'size', dir: 'asc' },
      { key: 'created_at', dir: 'desc' },
      { key: 'id', dir: 'desc' },
    ]);
    // id already present: not appended again; created_at still is
    expect(q({ sort: ['id:asc'] }).sort).toEqual([
      { key: 'id', dir: 'asc' },
      { key: 'created_at', dir: 'asc' },
    ]);
    expect(q({ sort: ['created_at:asc,id:asc'] }).sort).toEqual([
      { key: 'created_at', dir: 'asc' },
      { key: 'id', dir: 'asc' },
    ]);
  });

  it('parses the classic syntax', () => {
    expect(q({ sort_key: ['name'] }).sort).toEqual([
      { key: 'name', dir: 'desc' },
      { key: 'created_at', dir: 'desc' },
      { key: 'id', dir: 'desc' },
    ]);
    // one sort_dir applies to every key
    expect(q({ sort_key: ['name', 'size'], sort_dir: ['asc'] }).sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'size', dir: 'asc' },
      { key: 'created_at', dir: 'asc' },
      { key: 'id', dir: 'asc' },
    ]);
    expect(q({ sort_key: ['name', 'size'], sort_dir: ['asc', 'desc'] }).sort).toEqual([
      { key: 'name', dir: 'asc' },
      { key: 'size', dir: 'desc' },
      { key: 'created_at', dir: 'desc' },
      { key: 'id', dir: 'desc' },
    ]);
    // sort_dir alone sorts created_at that way
    expect(q({ sort_dir: ['asc'] }).sort).toEqual([
      { key: 'created_at', dir: 'asc' },
      { key: 'id', dir: 'asc' },
    ]);
  });

  it('isDefaultSort only for exactly created_at desc, id desc', () => {
    expect(q({ sort: ['created_at'] }).isDefaultSort).toBe(true);
    expect(q({ sort_key: ['created_at'], sort_dir: ['desc'] }).isDefaultSort).toBe(true);
    expect(q({ sort: ['created_at:desc,id:desc'] }).isDefaultSort).toBe(true);
    expect(q({ sort: ['created_at:asc'] }).isDefaultSort).toBe(false);
    expect(q({ sort: ['id'] }).isDefaultSort).toBe(false);
    expect(q({ sort: ['name'] }).isDefaultSort).toBe(false);
  });

  it('rejects bad keys, directions, counts and mixed syntaxes', () => {
    const keys = 'name, status, container_format, disk_format, size, id, created_at, updated_at';
    expect400({ sort: ['bogus'] }, `Invalid sort key: bogus. It must be one of the following: ${keys}.`);
    expect400({ sort: [''] }, `Invalid sort key: . It must be one of the following: ${keys}.`);
    expect400({ sort_key: ['owner'] }, `Invalid sort key: owner. It must be one of the following: ${keys}.`);
    expect400({ sort: ['name:up'] }, 'Invalid sort direction: up');
    expect400({ sort: ['name:asc:x'] }, 'Invalid sort direction: asc:x');
    expect400({ sort_key: ['name'], sort_dir: ['ASC'] }, 'Invalid sort direction: ASC');
    expect400({ sort: ['name'], sort_key: ['id'] }, 'Old and new sorting syntax cannot be combined');
    expect400({ sort: ['name'], sort_dir: ['asc'] }, 'Old and new sorting syntax cannot be combined');
    expect400({ sort_key: ['name'], sort_dir: ['asc', 'desc'] }, 'Number of sort dirs does not match the number of sort keys');
  });
});

describe('parseListQuery: filters', () => {
  it('parses equality and in: filters on name, id, status, formats', () => {
    const r = q({
      name: ['cirros'],
      status: ['in:active,queued'],
      disk_format: ['eq:qcow2'],
      container_format: ['in:"bare","ova"'],
      id: ['abc'],
    });
    expect(r.filters.name).toEqual({ op: 'eq', value: 'cirros' });
    expect(r.filters.status).toEqual({ op: 'in', values: ['active', 'queued'] });
    expect(r.filters.disk_format).toEqual({ op: 'eq', value: 'qcow2' });
    expect(r.filters.container_format).toEqual({ op: 'in', values: ['bare', 'ova'] });
    expect(r.filters.id).toEqual({ op: 'eq', value: 'abc' });
  });

  it('in: with quotes keeps commas inside quoted values', () => {
    expect(q({ name: ['in:"a,1","b"'] }).filters.name).toEqual({ op: 'in', values: ['a,1', 'b'] });
    expect(q({ name: ['in:a,b'] }).filters.name).toEqual({ op: 'in', values: ['a', 'b'] });
    expect(q({ name: ['eq:a:b'] }).filters.name).toEqual({ op: 'eq', value: 'a:b' });
    // a whole ISO time is not split on its colons
    expect(q({ name: ['2020-01-01T10:00:00Z'] }).filters.name).toEqual({ op: 'eq', value: '2020-01-01T10:00:00Z' });
  });

  it('splits in: values like glance.common.utils', () => {
    // vectors produced by Glance 25.1.0's split_filter_value_for_quotes
    expect(splitInValues('a,b')).toEqual(['a', 'b']);
    expect(splitInValues('"a,1","b"')).toEqual(['a,1', 'b']);
    expect(splitInValues('a,,b')).toEqual(['a', '', 'b']);
    expect(splitInValues(',a')).toEqual(['', 'a']);
    expect(splitInValues('a,')).toEqual(['a']);
    expect(splitInValues('"a\\"b",c')).toEqual(['a\\"b', 'c']);
    expect(splitInValues('')).toEqual([]);
    expect(splitInValues('"",x')).toEqual(['', 'x']);
  });

  it('rejects badly quoted in: values and unknown operators', () => {
    expect400({ name: ['in:a"b'] }, 'Invalid filter value a"b. There is no comma before opening quotation mark.');
    expect400({ name: ['in:"a'] }, 'Invalid filter value "a. The quote is not closed.');
    expect400({ name: ['in:"a"b'] }, 'Invalid filter value "a"b. There is no comma after closing quotation mark.');
    expect400({ name: ['foo:bar'] }, "Unable to filter by unknown operator 'foo'.");
    expect400({ status: ['12:30'] }, "Unable to filter by unknown operator '12'.");
  });

  it('parses visibility and rejects bad values', () => {
    for (const v of ['public', 'private', 'shared', 'community', 'all'] as const) {
      expect(q({ visibility: [v] }).visibility).toBe(v);
    }
    expect400({ visibility: ['bogus'] }, 'Invalid visibility value: bogus');
    expect400({ visibility: ['Public'] }, 'Invalid visibility value: Public');
    // the last value is the one Glance validates
    expect400({ visibility: ['public', 'bogus'] }, 'Invalid visibility value: bogus');
  });

  it('visibility= (empty) is not validated and matches nothing, as in Glance', () => {
    const r = q({ visibility: [''] });
    expect(r.visibility).toBeNull();
    expect(matchesListFilters(image({ visibility: 'public' }), r)).toBe(false);
  });

  it('parses owner, tags, protected, os_hidden, member_status', () => {
    const r = q({ owner: ['p2'], tag: ['a', ' b '], protected: ['true'], os_hidden: ['TRUE'], member_status: ['pending'] });
    expect(r.owner).toBe('p2');
    expect(r.filters.tags).toEqual(['a', 'b']);
    expect(r.filters.protected).toBe(true);
    expect(r.filters.os_hidden).toBe(true);
    expect(r.filters.member_status).toBe('pending');
    expect(q({ protected: ['false'] }).filters.protected).toBe(false);
    expect(q({ member_status: ['all'] }).filters.member_status).toBe('all');
    expect(q({ member_status: ['rejected'] }).filters.member_status).toBe('rejected');
  });

  it('rejects bad booleans and member statuses', () => {
    expect400({ protected: ['yes'] }, "Invalid value 'yes' for 'protected' filter. Valid values are 'true' or 'false'.");
    expect400({ protected: ['True'] }, "Invalid value 'True' for 'protected' filter. Valid values are 'true' or 'false'.");
    expect400({ protected: [''] }, "Invalid value '' for 'protected' filter. Valid values are 'true' or 'false'.");
    // os_hidden is lower-cased first, the message shows the lower-cased value
    expect400({ os_hidden: ['Maybe'] }, "Invalid value 'maybe' for 'os_hidden' filter. Valid values are 'true' or 'false'.");
    expect400({ member_status: ['Accepted'] }, 'Invalid status: Accepted');
  });

  it('rejects changes-since', () => {
    expect400({ 'changes-since': ['2020-01-01'] }, 'The "changes-since" filter is no longer available on v2.');
  });

  it('parses size ranges and rejects non-numeric bounds', () => {
    expect(q({ size_min: ['10'], size_max: ['20'] }).filters.ranges).toEqual([
      { key: 'size', bound: 'min', value: 10 },
      { key: 'size', bound: 'max', value: 20 },
    ]);
    expect(q({ min_ram_max: ['512'] }).filters.ranges).toEqual([{ key: 'min_ram', bound: 'max', value: 512 }]);
    expect400({ size_min: ['ten'] }, 'Unable to filter on a range with a non-numeric value.');
    expect400({ size_max: ['1.5'] }, 'Unable to filter on a range with a non-numeric value.');
  });

  it('parses time filters with every operator', () => {
    for (const op of ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'] as const) {
      const f = q({ created_at: [`${op}:2024-01-01T00:00:00Z`] }).filters.created_at;
      expect(f?.op).toBe(op);
      expect(f?.value).toBe('2024-01-01T00:00:00Z');
    }
    const plain = q({ updated_at: ['2024-01-01T00:00:00Z'] }).filters.updated_at;
    expect(plain?.op).toBe('eq');
    expect(plain?.instant).toEqual({ epochSeconds: Date.UTC(2024, 0, 1) / 1000, micros: 0 });
    expect(q({ created_at: ['2024-01-01'] }).filters.created_at?.op).toBe('eq');
  });

  it('rejects bad times and unknown time operators', () => {
    expect400({ created_at: ['yesterday'] }, 'Bad "created_at" query filter format. Use ISO 8601 DateTime notation.');
    expect400({ updated_at: ['gt:2024-13-01'] }, 'Bad "updated_at" query filter format. Use ISO 8601 DateTime notation.');
    expect400({ created_at: ['foo:bar'] }, 'Bad "created_at" query filter format. Use ISO 8601 DateTime notation.');
    expect400({ created_at: ['foo:2024-01-01'] }, 'Unable to filter on a unknown operator.');
    expect400({ created_at: ['in:2024-01-01T00:00:00Z'] }, 'Unable to filter on a unknown operator.');
  });

  it('treats any other key as a custom property equality filter (last value wins)', () => {
    const r = q({ os_distro: ['ubuntu'], hw_arch: ['x86', 'arm'], __proto__x: ['y'] });
    expect(r.filters.properties).toEqual({ os_distro: 'ubuntu', hw_arch: 'arm', __proto__x: 'y' });
    const tricky = q(JSON.parse('{"__proto__": ["p"]}') as QueryParams);
    expect(Object.keys(tricky.filters.properties)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(tricky.filters.properties)).toBe(Object.prototype);
  });

  it('does not turn control keys into filters and ignores deleted', () => {
    const r = q({ limit: ['1'], marker: ['x'], sort: ['name'], member_status: ['all'], tag: ['t'], deleted: ['true'] });
    expect(r.filters.properties).toEqual({});
    expect(r.filters.attributes).toEqual({});
  });

  it('unknown values such as status=bogus are accepted', () => {
    const r = q({ status: ['bogus'] });
    expect(r.filters.status).toEqual({ op: 'eq', value: 'bogus' });
    expect(matchesListFilters(image(), r)).toBe(false);
  });

  it('checks in Glance order: visibility before limit before sort', () => {
    expect400({ limit: ['-1'], visibility: ['x'] }, 'Invalid visibility value: x');
    expect400({ limit: ['-1'], sort: ['bogus:asc'], member_status: ['x'] }, 'Invalid status: x');
    expect400({ limit: ['-1'], sort: ['name:up'] }, 'limit param must be positive');
  });
});

describe('parseIsoTime', () => {
  // vectors checked against oslo_utils.timeutils.parse_isotime (iso8601 1.0.2)
  const iso = (s: string) => {
    const t = parseIsoTime(s);
    return t === null ? null : new Date(t.epochSeconds * 1000).toISOString().replace('.000Z', `.${String(t.micros).padStart(6, '0')}`);
  };
  it('accepts what iso8601 accepts', () => {
    expect(iso('2020')).toBe('2020-01-01T00:00:00.000000');
    expect(iso('2020-01')).toBe('2020-01-01T00:00:00.000000');
    expect(iso('20200102')).toBe('2020-01-02T00:00:00.000000');
    expect(iso('2020-1-2')).toBe('2020-01-02T00:00:00.000000');
    expect(iso('2020-01-02T10')).toBe('2020-01-02T10:00:00.000000');
    expect(iso('2020-01-02T1030')).toBe('2020-01-02T10:30:00.000000');
    expect(iso('2020-01-02 10:30:05.1234567+0130')).toBe('2020-01-02T09:00:05.123456');
    expect(iso('2020-01-02T10:00:00.5Z')).toBe('2020-01-02T10:00:00.500000');
    expect(iso('2020-01-02T10:00:00-05:00')).toBe('2020-01-02T15:00:00.000000');
    expect(iso('2024-02-29')).toBe('2024-02-29T00:00:00.000000');
  });
  it('rejects what iso8601 rejects', () => {
    for (const bad of ['202001', '2020-02-30', '2023-02-29', '2020-01-02T24:00', '2020-01-02T10:00:60', '2020-01-02T10:00+24',
      '2020-01-02T10:00+23:99', '0000-01-01', '2020-01-02t10:00', 'yesterday', '', '2020-13-01']) {
      expect(parseIsoTime(bad), bad).toBeNull();
    }
  });
});

describe('matchesListFilters', () => {
  it('hides deleted, pending_delete and killed images always', () => {
    expect(matches(image({ status: 'deleted' }), {})).toBe(false);
    expect(matches(image({ status: 'pending_delete' }), { status: ['pending_delete'] })).toBe(false);
    expect(matches(image({ status: 'killed' }), {})).toBe(false);
    for (const status of ['queued', 'saving', 'uploading', 'importing', 'active', 'deactivated'] as const) {
      expect(matches(image({ status }), {})).toBe(true);
    }
  });

  it('os_hidden: hidden only with os_hidden=true, and then only hidden', () => {
    const hidden = image({ os_hidden: true });
    const shown = image();
    expect(matches(hidden, {})).toBe(false);
    expect(matches(shown, {})).toBe(true);
    expect(matches(hidden, { os_hidden: ['true'] })).toBe(true);
    expect(matches(shown, { os_hidden: ['true'] })).toBe(false);
    expect(matches(hidden, { os_hidden: ['false'] })).toBe(false);
  });

  it('visibility filter', () => {
    const pub = image({ visibility: 'public' });
    const com = image({ visibility: 'community' });
    expect(matches(pub, { visibility: ['public'] })).toBe(true);
    expect(matches(com, { visibility: ['public'] })).toBe(false);
    expect(matches(com, { visibility: ['community'] })).toBe(true);
    expect(matches(com, { visibility: ['all'] })).toBe(true);
    expect(matches(pub, { visibility: ['all'] })).toBe(true);
    expect(matches(image({ visibility: 'private' }), { visibility: ['private'] })).toBe(true);
  });

  it('owner and protected', () => {
    expect(matches(image({ owner: 'p2' }), { owner: ['p2'] })).toBe(true);
    expect(matches(image({ owner: 'p1' }), { owner: ['p2'] })).toBe(false);
    expect(matches(image({ owner: null }), { owner: [''] })).toBe(false);
    expect(matches(image({ protected: true }), { protected: ['true'] })).toBe(true);
    expect(matches(image({ protected: false }), { protected: ['true'] })).toBe(false);
    expect(matches(image({ protected: false }), { protected: ['false'] })).toBe(true);
  });

  it('name / status / formats / id, eq and in, NULL never matches', () => {
    const img = image({ name: 'a,1', disk_format: 'qcow2', container_format: null });
    expect(matches(img, { name: ['a,1'] })).toBe(true);
    expect(matches(img, { name: ['in:"a,1","b"'] })).toBe(true);
    expect(matches(img, { name: ['in:a,1'] })).toBe(false);
    expect(matches(img, { disk_format: ['in:raw,qcow2'] })).toBe(true);
    expect(matches(img, { disk_format: ['raw'] })).toBe(false);
    expect(matches(img, { container_format: ['in:bare,'] })).toBe(false);
    expect(matches(img, { status: ['active'] })).toBe(true);
    expect(matches(img, { status: ['in:queued,saving'] })).toBe(false);
    expect(matches(img, { id: [img.id] })).toBe(true);
    expect(matches(img, { id: [`in:x,${img.id}`] })).toBe(true);
    expect(matches(img, { id: ['other'] })).toBe(false);
    expect(matches(image({ name: null }), { name: [''] })).toBe(false);
    expect(matches(image({ name: '' }), { name: [''] })).toBe(true);
    expect(matches(img, { name: ['in:'] })).toBe(false);
  });

  it('tags are ANDed', () => {
    const img = image({ tags: ['a', 'b', 'c'] });
    expect(matches(img, { tag: ['a'] })).toBe(true);
    expect(matches(img, { tag: ['a', 'c'] })).toBe(true);
    expect(matches(img, { tag: ['a', 'd'] })).toBe(false);
    expect(matches(image(), { tag: ['a'] })).toBe(false);
  });

  it('size_min / size_max are inclusive and exclude NULL sizes', () => {
    const img = image({ size: 100 });
    expect(matches(img, { size_min: ['100'] })).toBe(true);
    expect(matches(img, { size_max: ['100'] })).toBe(true);
    expect(matches(img, { size_min: ['101'] })).toBe(false);
    expect(matches(img, { size_max: ['99'] })).toBe(false);
    expect(matches(img, { size_min: ['50'], size_max: ['150'] })).toBe(true);
    expect(matches(image({ size: null }), { size_min: ['0'] })).toBe(false);
    expect(matches(image({ size: null }), {})).toBe(true);
  });

  it('created_at / updated_at operators', () => {
    const img = image({ created_at: '2024-06-01T12:00:00Z', updated_at: '2024-06-02T12:00:00Z' });
    const t = '2024-06-01T12:00:00Z';
    expect(matches(img, { created_at: [t] })).toBe(true);
    expect(matches(img, { created_at: [`eq:${t}`] })).toBe(true);
    expect(matches(img, { created_at: [`neq:${t}`] })).toBe(false);
    expect(matches(img, { created_at: [`gt:${t}`] })).toBe(false);
    expect(matches(img, { created_at: [`gte:${t}`] })).toBe(true);
    expect(matches(img, { created_at: [`lt:${t}`] })).toBe(false);
    expect(matches(img, { created_at: [`lte:${t}`] })).toBe(true);
    expect(matches(img, { created_at: ['gt:2024-06-01T11:59:59.999999Z'] })).toBe(true);
    expect(matches(img, { created_at: ['lt:2024-06-01T12:00:00.000001Z'] })).toBe(true);
    expect(matches(img, { created_at: ['eq:2024-06-01T14:00:00+02:00'] })).toBe(true);
    expect(matches(img, { created_at: ['gte:2024-06-01'] })).toBe(true);
    expect(matches(img, { updated_at: ['gt:2024-06-02'] })).toBe(true);
    expect(matches(img, { updated_at: ['gt:2024-06-03'] })).toBe(false);
  });

  it('custom properties and other image columns', () => {
    const img = image({ properties: { os_distro: 'ubuntu', hw: 'x' }, checksum: 'abc', min_ram: 512 });
    expect(matches(img, { os_distro: ['ubuntu'] })).toBe(true);
    expect(matches(img, { os_distro: ['ubuntu'], hw: ['x'] })).toBe(true);
    expect(matches(img, { os_distro: ['debian'] })).toBe(false);
    expect(matches(img, { missing: [''] })).toBe(false);
    expect(matches(img, { toString: ['x'] })).toBe(false);
    expect(matches(img, { checksum: ['abc'] })).toBe(true);
    expect(matches(img, { checksum: ['abd'] })).toBe(false);
    expect(matches(img, { min_ram: ['512'] })).toBe(true);
    expect(matches(img, { min_ram: ['513'] })).toBe(false);
    expect(matches(img, { size: ['100'] })).toBe(true);
    expect(matches(img, { virtual_size: ['100'] })).toBe(false);
    expect(matches(img, { deleted_at: ['x'] })).toBe(false);
  });

  it('everything together', () => {
    const img = image({
      name: 'cirros', tags: ['t1'], size: 10, visibility: 'public', owner: 'p9', properties: { arch: 'x86_64' },
      created_at: '2024-01-05T00:00:00Z',
    });
    const params: QueryParams = {
      name: ['in:cirros,ubuntu'], tag: ['t1'], size_max: ['10'], visibility: ['public'], owner: ['p9'], arch: ['x86_64'],
      created_at: ['gt:2024-01-01T00:00:00Z'], status: ['active'], disk_format: ['raw'], container_format: ['bare'],
    };
    expect(matches(img, params)).toBe(true);
    expect(matches(img, { ...params, arch: ['arm'] })).toBe(false);
  });
});

describe('compareImages', () => {
  const sortBy = (sort: SortKey[], images: Image[]) => [...images].sort(compareImages(sort)).map((i) => i.name);

  it('NULL sorts as smallest: first ascending, last descending', () => {
    const imgs = [image({ name: 'b' }), image({ name: null }), image({ name: 'a' })];
    expect(sortBy([{ key: 'name', dir: 'asc' }], imgs)).toEqual([null, 'a', 'b']);
    expect(sortBy([{ key: 'name', dir: 'desc' }], imgs)).toEqual(['b', 'a', null]);
    const sized = [image({ name: 'big', size: 1000 }), image({ name: 'none', size: null }), image({ name: 'small', size: 9 })];
    expect(sortBy([{ key: 'size', dir: 'asc' }], sized)).toEqual(['none', 'small', 'big']);
    expect(sortBy([{ key: 'size', dir: 'desc' }], sized)).toEqual(['big', 'small', 'none']);
  });

  it('numbers compare numerically, strings by code point', () => {
    const imgs = [image({ name: 'n10', size: 10 }), image({ name: 'n9', size: 9 }), image({ name: 'n100', size: 100 })];
    expect(sortBy([{ key: 'size', dir: 'asc' }], imgs)).toEqual(['n9', 'n10', 'n100']);
    const strs = [image({ name: 'b' }), image({ name: 'B' }), image({ name: 'a' }), image({ name: '\u{1F600}' }), image({ name: '\uFF01' })];
    expect(sortBy([{ key: 'name', dir: 'asc' }], strs)).toEqual(['B', 'a', 'b', '\uFF01', '\u{1F600}']);
    expect(compareCodePoints('\u{1F600}', '\uFF01')).toBe(1);
    expect(compareCodePoints('ab', 'abc')).toBe(-1);
    expect(compareCodePoints('abc', 'abc')).toBe(0);
  });

  it('multi-key ordering with mixed directions and tie-breakers', () => {
    const a = image({ name: 'x', size: 1, created_at: '2024-01-01T00:00:00Z', id: 'a' });
    const b = image({ name: 'x', size: 2, created_at: '2024-01-01T00:00:00Z', id: 'b' });
    const c = image({ name: 'y', size: 1, created_at: '2024-01-02T00:00:00Z', id: 'c' });
    const d = image({ name: 'x', size: 2, created_at: '2024-01-01T00:00:00Z', id: 'd' });
    const ids = (sort: SortKey[]) => [a, b, c, d].sort(compareImages(sort)).map((i) => i.id);
    expect(ids(q({ sort: ['name:asc,size:desc'] }).sort)).toEqual(['d', 'b', 'a', 'c']);
    expect(ids(q({}).sort)).toEqual(['c', 'd', 'b', 'a']);
    expect(ids(q({ sort_key: ['size', 'name'], sort_dir: ['asc'] }).sort)).toEqual(['a', 'c', 'b', 'd']);
    expect(compareImages(q({}).sort)(a, a)).toBe(0);
  });
});

describe('listLinks', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `id-${i + 1}` }));

  it('no query: first is bare, schema always set, no next on a short page', () => {
    expect(listLinks(null, ids(3), 25)).toEqual({ first: '/v2/images', schema: '/v2/schemas/images' });
    expect(listLinks('', [], 25)).toEqual({ first: '/v2/images', schema: '/v2/schemas/images' });
  });

  it('full page: next carries the query plus marker of the last image', () => {
    expect(listLinks(null, ids(25), 25)).toEqual({
      first: '/v2/images',
      next: '/v2/images?marker=id-25',
      schema: '/v2/schemas/images',
    });
    expect(listLinks('limit=2&name=x', ids(2), 2)).toEqual({
      first: '/v2/images?limit=2&name=x',
      next: '/v2/images?limit=2&name=x&marker=id-2',
      schema: '/v2/schemas/images',
    });
  });

  it('exact-fit last page still has next; the empty page after it has none', () => {
    expect(listLinks('limit=3', ids(3), 3).next).toBe('/v2/images?limit=3&marker=id-3');
    expect(listLinks('limit=3&marker=id-3', [], 3).next).toBeUndefined();
  });

  it('limit=0 never has next', () => {
    expect(listLinks('limit=0', [], 0)).toEqual({ first: '/v2/images?limit=0', schema: '/v2/schemas/images' });
  });

  it('keeps the limit as sent while comparing with the clamped one', () => {
    expect(listLinks('limit=5000', ids(1000), 1000).next).toBe('/v2/images?limit=5000&marker=id-1000');
  });

  it('repeated params collapse to the last value at the first position', () => {
    // vectors produced with webob 1.8.6 + urllib.parse.urlencode as in Glance's ResponseSerializer
    expect(listLinks('tag=a&limit=2&tag=b', ids(2), 2)).toEqual({
      first: '/v2/images?tag=b&limit=2',
      next: '/v2/images?tag=b&limit=2&marker=id-2',
      schema: '/v2/schemas/images',
    });
  });

  it('marker is replaced, not duplicated, and moves to the end', () => {
    const links = listLinks('marker=m1&limit=2&name=x', ids(2), 2);
    expect(links.first).toBe('/v2/images?limit=2&name=x');
    expect(links.next).toBe('/v2/images?limit=2&name=x&marker=id-2');
    expect(listLinks('marker=abc', [], 25)).toEqual({ first: '/v2/images', schema: '/v2/schemas/images' });
    expect(listLinks('marker=a&marker=b', ids(1), 1).next).toBe('/v2/images?marker=id-1');
  });

  it('re-encodes like urllib quote_plus and parses like webob', () => {
    expect(listLinks('limit=2&marker=m1;sort=name:asc', ids(2), 2)).toEqual({
      first: '/v2/images?limit=2&sort=name%3Aasc',
      next: '/v2/images?limit=2&sort=name%3Aasc&marker=id-2',
      schema: '/v2/schemas/images',
    });
    expect(listLinks('name=a+b%2Fc&x=%zz&flag&=v&&', [], 25).first).toBe('/v2/images?name=a+b%2Fc&x=%25zz&flag=&=v');
    expect(listLinks('name=%C3%A9%E2%82%AC', [], 25).first).toBe('/v2/images?name=%C3%A9%E2%82%AC');
    expect(listLinks('?name=in:%22a,1%22', [], 25).first).toBe('/v2/images?name=in%3A%22a%2C1%22');
    expect(quotePlus('a b/c:d,"\u00e9')).toBe('a+b%2Fc%3Ad%2C%22%C3%A9');
    expect(quotePlus("x~y!'()*_.-")).toBe('x~y%21%27%28%29%2A_.-');
  });

  it('parseQueryString gives webob-style QueryParams', () => {
    expect(parseQueryString('tag=a&tag=b;name=x+y&flag&limit=%31')).toEqual({
      tag: ['a', 'b'],
      name: ['x y'],
      flag: [''],
      limit: ['1'],
    });
    expect(parseQueryString(null)).toEqual({});
    expect(q(parseQueryString('sort=name:asc&tag=a&tag=b')).filters.tags).toEqual(['a', 'b']);
  });
});
