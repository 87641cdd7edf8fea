import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, tokenFor, uniqueProject } from './client.js';

describe('version discovery', () => {
  it('answers GET / with 300 and GET /versions with 200, hrefs built from the Host', async () => {
    const root = await call('/');
    expect(root.status).toBe(300);
    expect(root.body.versions[0]).toMatchObject({ id: 'v2.15', status: 'CURRENT' });
    expect(root.body.versions[0].links[0].href).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\/$/);
    const versions = await call('/versions');
    expect(versions.status).toBe(200);
    expect(versions.body).toEqual(root.body);
  });

  it('answers unversioned unknown paths with 300, unknown /v2 paths with 404, wrong methods with 405 + Allow', async () => {
    expect((await call('/v3/images')).status).toBe(300);
    const missing = await call('/v2/nothing-here', { token: await tokenFor('p') });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: '404 Not Found', title: 'Not Found' });
    expect((await call('/v2/images/', { token: await tokenFor('p') })).status).toBe(404);
    const wrong = await call('/v2/images', { method: 'PUT', token: await tokenFor('p') });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
    expect(wrong.body.code).toBe('405 Method Not Allowed');
  });
});

describe('authentication', () => {
  it('refuses a request without a token with 401 in keystonemiddleware\'s JSON shape', async () => {
    const res = await call('/v2/images');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.body.error).toMatchObject({ code: 401, title: 'Unauthorized' });
    expect(res.body.error.message).toMatch(/authoriz/);
    expect(res.text).not.toMatch(/at .*\.ts|Error:/);
  });

  it('refuses forged, garbled and expired tokens', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ project_id: 'x', roles: ['admin'] })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('skyglass-local')
      .setAudience('skyglass')
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(privateKey);
    for (const token of [forged, 'not-a-jwt', `${(await tokenFor('p')).slice(0, -4)}AAAA`]) {
      const res = await call('/v2/images', { token });
      expect(res.status, token).toBe(401);
    }
    const { mintToken } = await import('../../infra/local/dev-key.js');
    const { inject } = await import('vitest');
    const expired = await mintToken(inject('dataDir'), { project: 'p', ttl: -10 });
    expect((await call('/v2/images', { token: expired })).status).toBe(401);
  });

  it('requires X-Auth-Token, the key API Gateway caches decisions by: Authorization: Bearer alone is 401, as there', async () => {
    const token = await tokenFor(uniqueProject());
    expect((await call('/v2/images', { token })).status).toBe(200);
    // API Gateway answers a request without the cached authorizer's identity source before the authorizer runs.
    const bearer = await call('/v2/images', { headers: { Authorization: `Bearer ${token}` } });
    expect(bearer.status).toBe(401);
    expect(bearer.body.error).toMatchObject({ code: 401, title: 'Unauthorized' });
    expect((await call('/v2/images', { headers: { 'X-Auth-Token': ' ' } })).status).toBe(401);
    // Unauthenticated routes need no token.
    expect((await call('/versions')).status).toBe(200);
  });

  it('answers errors in Glance\'s JSON to clients that ask for JSON, and in the OpenStack envelope otherwise', async () => {
    const token = await tokenFor(uniqueProject());
    const missing = '/v2/images/00000000-0000-0000-0000-000000000000';
    const asked = await call(missing, { token, headers: { Accept: 'application/json' } });
    expect(asked.body).toEqual({ message: expect.stringContaining('No image found'), code: '404 Not Found', title: 'Not Found' });
    // glanceclient and curl send */*: the envelope is what glanceclient can read.
    for (const accept of ['*/*', 'text/html, application/json']) {
      const res = await call(missing, { token, headers: { Accept: accept } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(res.body).toEqual({ error: { code: 404, title: 'Not Found', message: expect.stringContaining('No image found') } });
    }
  });

  it('stamps every authenticated response with a request id', async () => {
    const res = await call('/v2/images', { token: await tokenFor('p') });
    expect(res.headers.get('x-openstack-request-id')).toMatch(/^req-[0-9a-f-]{36}$/);
  });
});

describe('schemas', () => {
  it('serves the image schema a client can validate against, behind auth', async () => {
    expect((await call('/v2/schemas/image')).status).toBe(401);
    const res = await call('/v2/schemas/image', { token: await tokenFor('p') });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('image');
    expect(res.body.properties.disk_format.enum).toContain('qcow2');
    expect(res.body.properties).not.toHaveProperty('stores');
    expect(res.body.additionalProperties).toEqual({ type: 'string' });
    const list = await call('/v2/schemas/images', { token: await tokenFor('p') });
    expect(list.status).toBe(200);
    expect(list.body.properties.images.items.name).toBe('image');
  });

  it('answers a schema name Glance does not serve as an unknown resource (404), after auth as Glance', async () => {
    expect((await call('/v2/schemas/imagez')).status).toBe(401);
    const res = await call('/v2/schemas/imagez', { token: await tokenFor('p') });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: '404 Not Found', title: 'Not Found', message: 'The resource could not be found.' });
    // The catalogue's own keys are not schema names.
    expect((await call('/v2/schemas/constructor', { token: await tokenFor('p') })).status).toBe(404);
  });
});
