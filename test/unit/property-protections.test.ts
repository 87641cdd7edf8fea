import { describe, expect, it } from 'vitest';
import { makeCaller } from '../../shared/domain/caller.js';
import { parsePropertyProtections, PropertyProtectionError, PropertyProtections } from '../../shared/domain/property-protections.js';

// Glance's own example (doc/source/admin/property-protections.rst, roles format), abridged.
const FILE = `
# the first matching section decides
[^x_owner_.*]
create = admin,member
read = admin,member
update = admin,member
delete = admin,member

[^x_none_read$]
create = admin
read = !
update = !
delete = admin

[^x_all_permitted.*]
create = @
read = @
update = @
delete = @

[.*]
create = admin
read = admin
update = admin
delete = admin
`;

const admin = makeCaller('ops', 'u', ['admin']);
const member = makeCaller('a', 'u', ['member', 'reader']);
const reader = makeCaller('a', 'u', ['reader']);

describe('property protection file', () => {
  const protections = new PropertyProtections(parsePropertyProtections(FILE, 'prop.conf'));

  it('lets the first section whose expression matches decide, by role', () => {
    expect(protections.allows(member, 'x_owner_foo', 'create')).toBe(true);
    expect(protections.allows(reader, 'x_owner_foo', 'read')).toBe(false);
    expect(protections.allows(reader, 'x_all_permitted_1', 'update')).toBe(true);
    expect(protections.allows(admin, 'x_none_read', 'read')).toBe(false);
    expect(protections.allows(member, 'other', 'read')).toBe(false);
    expect(protections.allows(admin, 'other', 'read')).toBe(true);
  });

  it('refuses everything a section does not cover once any rule exists, and allows everything without rules', () => {
    const only = new PropertyProtections(parsePropertyProtections('[^a$]\ncreate=@\nread=@\nupdate=@\ndelete=@\n', 'p'));
    expect(only.allows(admin, 'b', 'read')).toBe(false);
    expect(new PropertyProtections([]).allows(reader, 'anything', 'delete')).toBe(true);
  });

  it('hides what the caller may not read, and names the first change it may not make', () => {
    expect(protections.readable(member, { x_owner_a: '1', secret: '2', x_all_permitted: '3' })).toEqual({ x_owner_a: '1', x_all_permitted: '3' });
    expect(protections.refusedChange(member, { x_owner_a: '1' }, { x_owner_a: '2', x_owner_b: '3' })).toBeUndefined();
    expect(protections.refusedChange(member, {}, { secret: 'x' })).toBe('secret');
    expect(protections.refusedChange(admin, { x_none_read: 'a' }, { x_none_read: 'b' })).toBe('x_none_read');
    expect(protections.refusedChange(admin, { x_none_read: 'a' }, {})).toBeUndefined();
  });

  it('takes DEFAULT options for every section, and ; or # comments', () => {
    const rules = parsePropertyProtections('[DEFAULT]\nread = @\n; comment\n[^k]\ncreate: admin\nupdate=\ndelete = admin, member\n', 'p');
    expect(rules).toEqual([{ pattern: '^k', create: ['admin'], read: ['@'], update: [], delete: ['admin', 'member'] }]);
  });

  it.each([
    ['[^a]\ncreate = @\nread = @\nupdate = @\n', 'Property protection file p: section [^a] has no "delete"'],
    ['[^a]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n', "Property protection file p: section [^a] create = @,!: '@' and '!' are mutually exclusive"],
    ['[(a]\ncreate = @\nread = @\nupdate = @\ndelete = @\n', 'Property protection file p: section [(a] is not a valid regular expression'],
    ['create = @\n', 'Property protection file p line 1: "create = @" is outside any [section]'],
    ['[a]\njust words\n', 'Property protection file p line 2: expected [section] or "operation = roles", found "just words"'],
  ])('refuses %j naming the file and the section', (text, message) => {
    expect(() => parsePropertyProtections(text, 'p')).toThrow(PropertyProtectionError);
    expect(() => parsePropertyProtections(text, 'p')).toThrow(message);
  });
});
