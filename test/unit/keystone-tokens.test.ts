import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityCache, KeystoneUnavailable, validateKeystoneToken, type KeystoneIdentity } from '../../shared/adapters/keystone-tokens.js';
import { freePort } from '../../infra/local/ports.js';
import { FakeKeystone } from '../keystone/fake-keystone.js';

describe('Keystone token validation', () => {
  const keystone = new FakeKeystone();
  beforeAll(() => keystone.start());
  afterAll(() => keystone.stop());

  it('a token validates itself: its project, user and roles (implied ones included) and expiry', async () => {
    const expiresAt = new Date(Date.now() + 600_000);
    keystone.tokens.set('good', { project: 'p1', user: 'u1', roles: ['member', 'reader'], expiresAt });
    expect(await validateKeystoneToken(keystone.url, 'good')).toEqual({ projectId: 'p1', userId: 'u1', roles: ['member', 'reader'], expiresAt: expiresAt.getTime() });
    expect(keystone.validations.at(-1)).toBe('good');
    // The URL may end in a slash, as catalogs often write it.
    expect(await validateKeystoneToken(`${keystone.url}/`, 'good')).toMatchObject({ projectId: 'p1' });
  });

  it('an invalid, expired or revoked token is no identity; so is one not scoped to a project', async () => {
    keystone.tokens.set('old', { project: 'p1', user: 'u1', roles: ['member'], expiresAt: new Date(Date.now() - 1000) });
    keystone.tokens.set('domain', { project: '', user: 'u1', roles: ['admin'], unscoped: true });
    for (const token of ['never-issued', 'old', 'domain']) expect(await validateKeystoneToken(keystone.url, token), token).toBeNull();
  });

  it('Keystone unreachable, failing or too slow is KeystoneUnavailable, never "invalid"', async () => {
    keystone.tokens.set('fine', { project: 'p1', user: 'u1', roles: ['member'] });
    await expect(validateKeystoneToken(`http://127.0.0.1:${await freePort()}`, 'fine')).rejects.toThrow(KeystoneUnavailable);
    keystone.failure = 503;
    await expect(validateKeystoneToken(keystone.url, 'fine')).rejects.toThrow(/answered 503/);
    keystone.failure = 'hang';
    await expect(validateKeystoneToken(keystone.url, 'fine', 200)).rejects.toThrow(/timed out/);
    keystone.failure = undefined;
  });
});

describe('IdentityCache', () => {
  const identity = (expiresAt: number): KeystoneIdentity => ({ projectId: 'p', userId: 'u', roles: ['member'], expiresAt });

  it('keeps a token until the earlier of its expiry and the TTL', () => {
    let now = 1_000_000;
    const cache = new IdentityCache(300, 10, () => now);
    cache.set('long', identity(now + 3600_000));
    cache.set('short', identity(now + 60_000));
    now += 59_000;
    expect(cache.get('long')).toBeDefined();
    expect(cache.get('short')).toBeDefined();
    now += 2_000;
    expect(cache.get('short')).toBeUndefined();
    expect(cache.get('long')).toBeDefined();
    now += 240_000;
    expect(cache.get('long')).toBeUndefined();
  });

  it('holds at most maxEntries, dropping the oldest; a TTL of 0 keeps nothing', () => {
    const cache = new IdentityCache(300, 2);
    const later = Date.now() + 3600_000;
    for (const token of ['a', 'b', 'c']) cache.set(token, identity(later));
    expect(['a', 'b', 'c'].map((t) => cache.get(t) !== undefined)).toEqual([false, true, true]);
    const none = new IdentityCache(0);
    none.set('a', identity(later));
    expect(none.get('a')).toBeUndefined();
  });
});
