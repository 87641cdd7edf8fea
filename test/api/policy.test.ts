/**
 * Glance's secure-RBAC policy through the HTTP API: readers write nothing, the owner's members
 * deactivate, admins set owners and publicize; and an operator's policy file changes behaviour
 * with no change of code (a runtime of its own started with POLICY_FILE).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeProcess } from '../crash/runtime-process.js';
import { call, createImage, patch, PATCH_TYPE, tokenFor, uniqueProject, type CallResult } from './client.js';
import { seedActive } from './seed.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OCTETS = { 'Content-Type': 'application/octet-stream' };

function expectRefused(res: CallResult, status: number, message?: string) {
  expect(res.status, res.text).toBe(status);
  if (message !== undefined) expect(res.body.message).toBe(message);
}

describe('a reader of the owner project', () => {
  it('reads, but every write is 403 and writes nothing', async () => {
    const project = uniqueProject();
    const member = await tokenFor(project);
    const reader = await tokenFor(project, ['reader']);
    const image = await createImage(member, { name: 'r', disk_format: 'raw', container_format: 'bare', tags: ['keep'] });
    const active = await createImage(member, { name: 'a', disk_format: 'raw', container_format: 'bare' });
    await seedActive(active.id);

    expect((await call(`/v2/images/${image.id}`, { token: reader })).status).toBe(200);
    expect((await call('/v2/images', { token: reader })).body.images.map((i: { id: string }) => i.id)).toContain(image.id);

    expectRefused(await call('/v2/images', { method: 'POST', token: reader, json: { name: 'x' } }), 403, 'You are not authorized to complete add_image action.');
    expectRefused(await patch(reader, image.id, [{ op: 'replace', path: '/name', value: 'x' }]), 403, 'You are not authorized to complete modify_image action.');
    expectRefused(await call(`/v2/images/${image.id}/tags/t`, { method: 'PUT', token: reader }), 403, 'You are not authorized to complete modify_image action.');
    expectRefused(await call(`/v2/images/${image.id}/tags/keep`, { method: 'DELETE', token: reader }), 403);
    expectRefused(await call(`/v2/images/${image.id}`, { method: 'DELETE', token: reader }), 403, 'You are not authorized to complete delete_image action.');
    expectRefused(await call(`/v2/images/${image.id}/file`, { method: 'PUT', token: reader, body: Buffer.alloc(512), headers: OCTETS }), 403, 'You are not authorized to complete upload_image action.');
    expectRefused(await call(`/v2/images/${image.id}/uploads`, { method: 'POST', token: reader, json: { size: 512 } }), 403, 'You are not authorized to complete upload_image action.');
    expectRefused(await call(`/v2/images/${image.id}/stage`, { method: 'PUT', token: reader, body: Buffer.alloc(512), headers: OCTETS }), 403, 'You are not authorized to complete modify_image action.');
    expectRefused(await call(`/v2/images/${image.id}/import`, { method: 'POST', token: reader, json: { method: { name: 'glance-direct' } } }), 403, 'You are not authorized to complete modify_image action.');
    expectRefused(await call(`/v2/images/${active.id}/actions/deactivate`, { method: 'POST', token: reader }), 403, 'You are not authorized to complete deactivate action.');
    // download_image needs the member role.
    expectRefused(await call(`/v2/images/${active.id}/file`, { token: reader }), 403, 'You are not authorized to complete download_image action.');

    const after = await call(`/v2/images/${image.id}`, { token: reader });
    expect(after.body).toMatchObject({ name: 'r', status: 'queued', tags: ['keep'], updated_at: image.updated_at });
    expect((await call(`/v2/images/${active.id}`, { token: reader })).body.status).toBe('active');
  });
});

describe('reading', () => {
  it('lists only with get_images (a reader of the caller\'s project) and shows only with get_image', async () => {
    const project = uniqueProject();
    const image = await createImage(await tokenFor(project), { visibility: 'private' });
    const roleless = await tokenFor(project, []);
    expectRefused(await call('/v2/images', { token: roleless }), 403, 'You are not authorized to complete get_images action.');
    // get_image refused on an image the caller's project owns: 404, as Glance (never 403 for get_image).
    expectRefused(await call(`/v2/images/${image.id}`, { token: roleless }), 404, `No image found with ID ${image.id}`);
    expect((await call(`/v2/images/${image.id}`, { token: await tokenFor(project, ['reader']) })).status).toBe(200);
  });

  it('lets a member read, as Keystone tokens list implied roles (the local issuer too: member implies reader)', async () => {
    const project = uniqueProject();
    const member = await tokenFor(project, ['member']);
    const image = await createImage(member, {});
    expect((await call(`/v2/images/${image.id}`, { token: member })).status).toBe(200);
    expect((await call('/v2/images', { token: member })).status).toBe(200);
  });
});

describe('deactivate and reactivate', () => {
  it('a member of the owner project may (204); a reader may not (403); another project gets 404, or 403 on an image it sees', async () => {
    const project = uniqueProject();
    const member = await tokenFor(project);
    const reader = await tokenFor(project, ['reader']);
    const other = await tokenFor(uniqueProject());
    const priv = await createImage(member, { visibility: 'private', disk_format: 'raw', container_format: 'bare' });
    const community = await createImage(member, { visibility: 'community', disk_format: 'raw', container_format: 'bare' });
    await seedActive(priv.id);
    await seedActive(community.id);

    expect((await call(`/v2/images/${priv.id}/actions/deactivate`, { method: 'POST', token: member })).status).toBe(204);
    expect((await call(`/v2/images/${priv.id}`, { token: member })).body.status).toBe('deactivated');
    expectRefused(await call(`/v2/images/${priv.id}/actions/reactivate`, { method: 'POST', token: reader }), 403, 'You are not authorized to complete reactivate action.');
    expectRefused(await call(`/v2/images/${priv.id}/actions/reactivate`, { method: 'POST', token: other }), 404, `No image found with ID ${priv.id}`);
    expect((await call(`/v2/images/${priv.id}/actions/reactivate`, { method: 'POST', token: member })).status).toBe(204);
    expect((await call(`/v2/images/${priv.id}`, { token: member })).body.status).toBe('active');

    expectRefused(await call(`/v2/images/${community.id}/actions/deactivate`, { method: 'POST', token: other }), 403, 'You are not authorized to complete deactivate action.');
    expect((await call(`/v2/images/${community.id}`, { token: member })).body.status).toBe('active');
  });
});

describe('owner and visibility', () => {
  it('an admin sets the owner on create and update; others may only name their own project', async () => {
    const project = uniqueProject();
    const elsewhere = uniqueProject();
    const admin = await tokenFor(uniqueProject('ops'), ['admin', 'member', 'reader']);
    const member = await tokenFor(project);

    const made = await createImage(admin, { name: 'for-project', owner: project });
    expect(made.owner).toBe(project);
    expect((await call(`/v2/images/${made.id}`, { token: member })).body.owner).toBe(project);
    const moved = await patch(admin, made.id, [{ op: 'replace', path: '/owner', value: elsewhere }]);
    expect(moved.status, moved.text).toBe(200);
    expect(moved.body.owner).toBe(elsewhere);

    expect((await createImage(member, { owner: project })).owner).toBe(project);
    expectRefused(await call('/v2/images', { method: 'POST', token: member, json: { owner: elsewhere } }), 403, `You are not permitted to create images owned by '${elsewhere}'.`);
    const own = await createImage(member, {});
    expectRefused(await patch(member, own.id, [{ op: 'replace', path: '/owner', value: elsewhere }]), 403, "Owner can't be updated by non admin.");
  });

  it('only an admin makes an image public; a member of the owner makes it community', async () => {
    const member = await tokenFor(uniqueProject());
    const admin = await tokenFor(uniqueProject('ops'), ['admin']);
    expectRefused(await call('/v2/images', { method: 'POST', token: member, json: { visibility: 'public' } }), 403, 'You are not authorized to complete publicize_image action.');
    const image = await createImage(member, { visibility: 'community' });
    expect(image.visibility).toBe('community');
    expectRefused(await patch(member, image.id, [{ op: 'replace', path: '/visibility', value: 'public' }]), 403, 'You are not authorized to complete publicize_image action.');
    const published = await patch(admin, image.id, [{ op: 'replace', path: '/visibility', value: 'public' }]);
    expect(published.body.visibility).toBe('public');
    expect((await createImage(admin, { visibility: 'public' })).visibility).toBe('public');
  });
});

// Glance's roles format: the first section whose expression matches decides.
const PROPERTY_PROTECTIONS = `[^x_owner_]
create = admin,member
read = admin,member
update = admin,member
delete = admin,member

[^x_admin_]
create = admin
read = admin
update = admin
delete = admin

[.*]
create = @
read = @
update = @
delete = @
`;

describe("an operator's policy file (POLICY_FILE) and property protections (PROPERTY_PROTECTION_FILE)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-policy-api-'));
  const runtime = new RuntimeProcess(join(dir, 'data'), { POLICY_FILE: join(dir, 'policy.yaml'), PROPERTY_PROTECTION_FILE: join(dir, 'property-protections.conf') });

  beforeAll(async () => {
    // Glance's YAML syntax: members may publicize; only admins may download.
    writeFileSync(join(dir, 'policy.yaml'), '"publicize_image": "role:member"\n"download_image": "role:admin"\n');
    writeFileSync(join(dir, 'property-protections.conf'), PROPERTY_PROTECTIONS);
    await runtime.start();
  }, 120_000);
  afterAll(async () => {
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('changes who may publicize and download, with no change of code', async () => {
    const member = await runtime.token('tenant-a');
    const admin = await runtime.token('ops', ['admin']);
    const created = await runtime.call('/v2/images', { method: 'POST', token: member, json: { visibility: 'public', disk_format: 'raw', container_format: 'bare' } });
    expect(created.status, created.text).toBe(201);
    expect(created.body.visibility).toBe('public');
    const id = created.body.id as string;
    expect((await runtime.call(`/v2/images/${id}/file`, { method: 'PUT', token: member, body: Buffer.alloc(4096, 7), headers: OCTETS })).status).toBe(204);

    expectRefused(await runtime.call(`/v2/images/${id}/file`, { token: member }), 403, 'You are not authorized to complete download_image action.');
    expect((await runtime.call(`/v2/images/${id}/file`, { token: admin })).status).toBe(302);
    // The rules the file does not name keep Glance's defaults.
    expectRefused(await runtime.call('/v2/images', { method: 'POST', token: await runtime.token('tenant-a', ['reader']), json: {} }), 403, 'You are not authorized to complete add_image action.');
  });

  it('hides protected properties from callers who may not read them, and refuses their changes as Glance', async () => {
    const member = await runtime.token('tenant-b');
    const reader = await runtime.token('tenant-b', ['reader']);
    const admin = await runtime.token('ops', ['admin']);
    expectRefused(await runtime.call('/v2/images', { method: 'POST', token: member, json: { x_admin_secret: 'v' } }), 403, "Attribute 'x_admin_secret' is reserved.");

    const created = await runtime.call('/v2/images', { method: 'POST', token: admin, json: { owner: 'tenant-b', x_admin_secret: 's', x_owner_note: 'n', plain: 'p' } });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    const shown = await runtime.call(`/v2/images/${id}`, { token: member });
    expect(shown.body).toMatchObject({ x_owner_note: 'n', plain: 'p' });
    expect(shown.body).not.toHaveProperty('x_admin_secret');
    const listed = (await runtime.call('/v2/images', { token: member })).body.images.find((i: { id: string }) => i.id === id);
    expect(listed).toMatchObject({ x_owner_note: 'n', plain: 'p' });
    expect(listed).not.toHaveProperty('x_admin_secret');
    const asReader = await runtime.call(`/v2/images/${id}`, { token: reader });
    expect(asReader.body).toHaveProperty('plain', 'p');
    expect(asReader.body).not.toHaveProperty('x_owner_note');

    // What the caller may not read is absent to its patch; adding it needs create.
    expectRefused(await patch2(runtime, member, id, [{ op: 'replace', path: '/x_admin_secret', value: 'mine' }]), 409, 'Property x_admin_secret does not exist.');
    expectRefused(await patch2(runtime, member, id, [{ op: 'add', path: '/x_admin_secret', value: 'mine' }]), 403, "Attribute 'x_admin_secret' is reserved.");
    const changed = await patch2(runtime, member, id, [{ op: 'replace', path: '/x_owner_note', value: 'n2' }, { op: 'remove', path: '/plain' }]);
    expect(changed.status, changed.text).toBe(200);
    expect(changed.body).not.toHaveProperty('x_admin_secret');
    // The hidden property survived the member's patch.
    expect((await runtime.call(`/v2/images/${id}`, { token: admin })).body).toMatchObject({ x_admin_secret: 's', x_owner_note: 'n2' });
    expect((await runtime.call(`/v2/images/${id}`, { token: admin })).body).not.toHaveProperty('plain');
    expect((await patch2(runtime, admin, id, [{ op: 'remove', path: '/x_admin_secret' }])).status).toBe(200);
  });
});

function patch2(runtime: RuntimeProcess, token: string, id: string, ops: unknown) {
  return runtime.call(`/v2/images/${id}`, { method: 'PATCH', token, body: JSON.stringify(ops), headers: { 'Content-Type': PATCH_TYPE } });
}

/** `npm start` (infra/local/start.ts) as a child process with `env`; its exit code and output. */
function startWith(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'infra/local/start.ts')], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    // A runtime that started after all must not outlive the test.
    const timer = setTimeout(() => child.kill('SIGINT'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('a malformed policy file', () => {
  it('stops npm start with a message naming the file and the rule, and a nonzero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skyglass-policy-bad-'));
    try {
      const file = join(dir, 'policy.yaml');
      writeFileSync(file, 'modify_image: "role:admin or (role:member"\n');
      const started = await startWith({ POLICY_FILE: file, DATA_DIR: join(dir, 'data') });
      expect(started.code).toBe(1);
      expect(started.output).toContain(`Skyglass did not start: Policy file ${file}: Policy rule "modify_image" does not parse`);
      expect(started.output).not.toContain('listening on');

      writeFileSync(file, 'modify_images: "role:admin"\n');
      const unknown = await startWith({ POLICY_FILE: file, DATA_DIR: join(dir, 'data') });
      expect(unknown.code).toBe(1);
      expect(unknown.output).toContain('Policy rule "modify_images" is not a Glance policy rule');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
