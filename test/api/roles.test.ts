import { importJWK, SignJWT } from 'jose';
import { describe, expect, inject, it } from 'vitest';
import { loadOrCreateDevKey, LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../infra/local/dev-key.js';
import { call, createImage, tokenFor, uniqueProject } from './client.js';

/** A token signed with the local dev key whose roles claim is exactly `roles` (a list or a string). */
async function tokenWithRoles(project: string, roles: unknown): Promise<string> {
  const key = await loadOrCreateDevKey(inject('dataDir'));
  return new SignJWT({ project_id: project, roles })
    .setProtectedHeader({ alg: 'ES256', kid: key.privateJwk.kid ?? 'local' })
    .setIssuer(LOCAL_ISSUER)
    .setAudience(LOCAL_AUDIENCE)
    .setSubject(`${project}-user`)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(await importJWK(key.privateJwk, 'ES256'));
}

/** Whether the token's caller is treated as an admin: only an admin sees another project's private image. */
async function seesOthersPrivateImage(token: string, privateImageId: string): Promise<number> {
  return (await call(`/v2/images/${privateImageId}`, { token })).status;
}

describe('roles from the token', () => {
  it('take each element of a list claim as one role: "reader,admin" is not admin', async () => {
    const owner = await tokenFor(uniqueProject());
    const image = await createImage(owner, { name: 'private', visibility: 'private' });
    const other = uniqueProject();
    // The one role named "reader,admin" must not become two roles on its way to the handler.
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, ['reader,admin']), image.id)).toBe(404);
    // Neither admin nor reader, so not even get_images (secure RBAC: 403, where an admin would list pending_delete images).
    expect((await call('/v2/images?status=pending_delete', { token: await tokenWithRoles(other, ['reader,admin']) })).status).toBe(403);
    // Two roles, one of them admin: admin.
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, ['reader', 'admin']), image.id)).toBe(200);
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, ['reader']), image.id)).toBe(404);
  });

  it('read a string claim (a Cognito custom attribute) as a JSON list, or a comma- or space-separated one', async () => {
    const owner = await tokenFor(uniqueProject());
    const image = await createImage(owner, { name: 'private', visibility: 'private' });
    const other = uniqueProject();
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, 'reader,admin'), image.id)).toBe(200);
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, 'member admin'), image.id)).toBe(200);
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, 'member'), image.id)).toBe(404);
    // A string holding a JSON list is that list, element by element.
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, '["member", "admin"]'), image.id)).toBe(200);
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, '["reader,admin"]'), image.id)).toBe(404);
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, '["admin"'), image.id)).toBe(404);
    // Anything else carries no roles at all (never a guess).
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, { admin: true }), image.id)).toBe(404);
    expect(await seesOthersPrivateImage(await tokenWithRoles(other, [['admin']]), image.id)).toBe(404);
  });
});
