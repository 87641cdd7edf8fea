import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeProcess } from '../crash/runtime-process.js';
import { FakeKeystone } from './fake-keystone.js';

/**
 * `npm start` in Keystone mode (KEYSTONE_URL), its authorizer asking a Keystone that can be
 * made to revoke, expire, fail and hang on demand (test/keystone/fake-keystone.ts). The real
 * Keystone and the stock clients' password auth: test/keystone/real-keystone.test.ts.
 */
describe('Keystone mode: tokens validated by Keystone', () => {
  const keystone = new FakeKeystone();
  const dataDir = mkdtempSync(join(tmpdir(), 'skyglass-keystone-'));
  let runtime: RuntimeProcess;

  beforeAll(async () => {
    await keystone.start();
    keystone.tokens.set('alice-token', { project: 'project-a', user: 'alice', roles: ['member', 'reader'] });
    keystone.tokens.set('reader-token', { project: 'project-a', user: 'rita', roles: ['reader'] });
    keystone.tokens.set('admin-token', { project: 'admin-project', user: 'admin', roles: ['admin', 'member', 'reader'] });
    runtime = new RuntimeProcess(dataDir, { KEYSTONE_URL: keystone.url });
    await runtime.start();
  });
  afterAll(async () => {
    await runtime?.stop();
    await keystone.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const validationsOf = (token: string) => keystone.validations.filter((t) => t === token).length;

  it('answers version discovery without a token, as Glance behind keystonemiddleware does', async () => {
    expect((await runtime.call('/')).status).toBe(300);
  });

  it('takes project, user and roles from Keystone, and validates a token once while it is cached', async () => {
    const created = await runtime.call('/v2/images', { method: 'POST', token: 'alice-token', json: { name: 'from-keystone' } });
    expect(created.status).toBe(201);
    expect(created.body.owner).toBe('project-a');
    const listed = await runtime.call('/v2/images', { token: 'alice-token' });
    expect(listed.body.images.map((i: { name: string }) => i.name)).toEqual(['from-keystone']);
    expect((await runtime.call(`/v2/images/${created.body.id}`, { token: 'alice-token' })).status).toBe(200);
    expect(validationsOf('alice-token')).toBe(1);

    // Keystone's roles are the policy's: a reader reads but does not create.
    expect((await runtime.call('/v2/images', { token: 'reader-token' })).body.images).toHaveLength(1);
    const refused = await runtime.call('/v2/images', { method: 'POST', token: 'reader-token', json: { name: 'nope' } });
    expect(refused.status).toBe(403);
    // And admin is admin: it may publish.
    const published = await runtime.call('/v2/images', { method: 'POST', token: 'admin-token', json: { name: 'public', visibility: 'public' } });
    expect(published.status).toBe(201);
  });

  it('answers 401 naming the Keystone for a token Keystone does not know, an expired one and none at all; the dev-key JWTs are not trusted', async () => {
    keystone.tokens.set('expired-token', { project: 'project-a', user: 'alice', roles: ['member'], expiresAt: new Date(Date.now() - 60_000) });
    const jwt = await runtime.token('project-a', ['member', 'reader']);
    for (const token of ['no-such-token', 'expired-token', jwt, null]) {
      const answer = await runtime.call('/v2/images', { token });
      expect(answer.status, String(token)).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe(`Keystone uri="${keystone.url}"`);
      expect(answer.body).toMatchObject({ error: { code: 401, title: 'Unauthorized' } });
    }
  });

  it('answers 503, not 401 or 500, while Keystone cannot answer; tokens it already validated keep working', async () => {
    keystone.tokens.set('fresh-token', { project: 'project-b', user: 'bob', roles: ['member', 'reader'] });
    for (const failure of [503, 'hang'] as const) {
      keystone.failure = failure;
      const answer = await runtime.call('/v2/images', { token: 'fresh-token' });
      expect(answer.status, String(failure)).toBe(503);
      expect(answer.headers.get('content-type')).toBe('application/json');
      expect(answer.body.error).toMatchObject({ code: 503, title: 'Service Unavailable' });
      expect(answer.body.error.message).toContain('the token could not be validated');
      expect((await runtime.call('/v2/images', { token: 'alice-token' })).status).toBe(200);
    }
    keystone.failure = undefined;
    expect((await runtime.call('/v2/images', { token: 'fresh-token' })).status).toBe(200);
  });
});
