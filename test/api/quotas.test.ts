import { describe, expect, it } from 'vitest';
import { usageCounters } from './behind-the-api.js';
import { call, createImage, patch, tokenFor, uniqueProject } from './client.js';
import { MiB, putParts, settled, until } from './data-helpers.js';
import { QUOTA_PROJECTS } from './test-quotas.js';
import { sweep } from './workers.js';

const RAW = { disk_format: 'raw', container_format: 'bare' };
const RESOURCES = ['image_count_total', 'image_count_uploading', 'image_size_total', 'image_stage_total'] as const;
type UsageView = Record<(typeof RESOURCES)[number], { limit: number; usage: number }>;

/** Glance's LimitExceeded text around oslo.limit's message. */
const limitExceeded = (project: string, resource: string, limit: number, usage: number, delta: number) =>
  'The request returned a 413 Request Entity Too Large. This generally means that rate limiting or a quota threshold was breached.\n\n' +
  `The response body:\nProject ${project} is over a limit for [Resource ${resource} is over limit of ${limit} due to current usage ${usage} and delta ${delta}]`;

async function usageOf(token: string): Promise<UsageView> {
  const res = await call('/v2/info/usage', { token });
  expect(res.status).toBe(200);
  return res.body.usage;
}

const figures = (view: UsageView) => Object.fromEntries(RESOURCES.map((r) => [r, view[r].usage]));

/** Polls until the project's usage is `expected` (the scrubber and verifier run asynchronously). */
const usageBecomes = (token: string, expected: Record<string, number>) =>
  until(`usage ${JSON.stringify(expected)}`, async () => {
    const now = figures(await usageOf(token));
    return RESOURCES.every((r) => now[r] === expected[r]) ? now : undefined;
  });

/** Everything the project still has, deleted (and scrubbed, as the test runtime scrubs after 3 s). */
async function deleteAll(token: string, project: string): Promise<void> {
  const list = await call(`/v2/images?owner=${project}&limit=1000`, { token });
  await Promise.all(list.body.images.map((image: { id: string }) => call(`/v2/images/${image.id}`, { method: 'DELETE', token })));
}

describe('quotas and usage (GET /v2/info/usage, 413 over a limit)', () => {
  it("answers Glance's usage shape: every resource with its limit (-1 unlimited) and usage, sizes in MiB", async () => {
    const token = await tokenFor(QUOTA_PROJECTS.cycle);
    const view = await usageOf(token);
    expect(Object.keys(view).sort()).toEqual([...RESOURCES].sort());
    expect(view).toMatchObject({
      image_count_total: { limit: 20 },
      image_count_uploading: { limit: 2 },
      image_size_total: { limit: 100 },
      image_stage_total: { limit: 2 },
    });
    for (const r of RESOURCES) expect(Number.isInteger(view[r].usage), r).toBe(true);
    // A project without limits: unlimited everywhere, still counted.
    const free = await tokenFor(uniqueProject('free'));
    await createImage(free, { name: 'counted' });
    expect(await usageOf(free)).toEqual({
      image_count_total: { limit: -1, usage: 1 },
      image_count_uploading: { limit: -1, usage: 0 },
      image_size_total: { limit: -1, usage: 0 },
      image_stage_total: { limit: -1, usage: 0 },
    });
    expect((await call('/v2/info/usage')).status).toBe(401);
  });

  it('admits exactly 10 of 20 concurrent creates against image_count_total 10; the other 10 get 413 and write nothing', async () => {
    const project = QUOTA_PROJECTS.count;
    const token = await tokenFor(project);
    const before = await usageOf(token);
    const room = before.image_count_total.limit - before.image_count_total.usage;
    expect(room).toBe(10);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call('/v2/images', { method: 'POST', token, json: { name: `race-${i}` } })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([...Array(10).fill(201), ...Array(10).fill(413)]);
    const refused = answers.find((a) => a.status === 413)!;
    expect(refused.body).toEqual({
      message: limitExceeded(project, 'image_count_total', 10, 10, 1),
      code: '413 Request Entity Too Large',
      title: 'Request Entity Too Large',
    });
    expect(refused.headers.get('content-type')).toContain('application/json');
    // Nothing of the refused creates exists: the list holds exactly the admitted images.
    const created = answers.filter((a) => a.status === 201).map((a) => a.body.id).sort();
    // Its own images only: other tests' public images are in its default list too.
    const list = await call(`/v2/images?owner=${project}&limit=1000`, { token });
    expect(list.body.images.map((i: { id: string }) => i.id).sort()).toEqual(created);
    expect((await usageOf(token)).image_count_total).toEqual({ limit: 10, usage: 10 });

    // Deleting frees the room again.
    await deleteAll(token, project);
    await usageBecomes(token, figures(before));
    expect((await call('/v2/images', { method: 'POST', token, json: { name: 'fits again' } })).status).toBe(201);
    await deleteAll(token, project);
    await usageBecomes(token, figures(before));
  });

  it('admits exactly as many of 8 concurrent uploads as fit image_size_total; refused ones stay queued', async () => {
    const project = QUOTA_PROJECTS.size;
    const token = await tokenFor(project);
    const before = await usageOf(token);
    const fit = Math.floor(before.image_size_total.limit - before.image_size_total.usage); // 1 MiB each
    expect(fit).toBe(3);
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => createImage(token, { name: `up-${i}`, ...RAW })));
    const sessions = await Promise.all(
      images.map((image) => call(`/v2/images/${image.id}/uploads`, { method: 'POST', token, json: { size: MiB } })),
    );
    expect(sessions.map((s) => s.status).sort()).toEqual([...Array(fit).fill(201), ...Array(8 - fit).fill(413)]);
    for (const s of sessions.filter((x) => x.status === 413)) {
      expect(s.body.message).toMatch(new RegExp(`^The request returned a 413 .*\\n\\nThe response body:\\nProject ${project} is over a limit for \\[Resource image_size_total is over limit of 3 due to current usage \\d and delta 1\\]$`, 's'));
    }
    const admitted = images.filter((_, i) => sessions[i]!.status === 201);
    const refused = images.filter((_, i) => sessions[i]!.status === 413);
    for (const image of refused) expect((await call(`/v2/images/${image.id}`, { token })).body.status).toBe('queued');
    // The sessions reserve their size while open.
    expect(figures(await usageOf(token))).toMatchObject({ image_size_total: 3, image_count_uploading: fit });

    const data = new Uint8Array(MiB);
    await Promise.all(
      admitted.map(async (image) => {
        const session = sessions[images.indexOf(image)]!.body;
        const parts = await putParts(data, session.parts);
        const done = await call(`/v2/images/${image.id}/uploads/${session.upload_id}/complete`, { method: 'POST', token, json: { parts } });
        expect(done.status).toBe(202);
        expect(await settled(token, image.id)).toMatchObject({ status: 'active', size: MiB });
      }),
    );
    expect(figures(await usageOf(token))).toMatchObject({ image_count_total: 8, image_size_total: 3, image_count_uploading: 0 });
    // Full: even one byte more through PUT /file is refused, and the image stays queued.
    const small = await call(`/v2/images/${refused[0]!.id}/file`, { method: 'PUT', token, body: Buffer.from('x'), headers: { 'Content-Type': 'application/octet-stream' } });
    expect(small.status).toBe(413);
    expect(small.body.message).toContain(`Project ${project} is over a limit for [Resource image_size_total is over limit of 3 due to current usage 3 and delta 1]`);
    expect((await call(`/v2/images/${refused[0]!.id}`, { token })).body).toMatchObject({ status: 'queued', size: null });

    await deleteAll(token, project);
    await usageBecomes(token, figures(before));
  });

  it('follows staging, import, delete, restore and scrub, and returns to its starting figures', async () => {
    const project = QUOTA_PROJECTS.cycle;
    const token = await tokenFor(project);
    const admin = await tokenFor(uniqueProject('admin'), ['admin']);
    const start = figures(await usageOf(token));
    const octets = { 'Content-Type': 'application/octet-stream' };

    // Staged: counts toward staging and uploading, not yet stored.
    const staged = await createImage(token, { name: 'staged', ...RAW });
    expect((await call(`/v2/images/${staged.id}/stage`, { method: 'PUT', token, body: Buffer.alloc(2 * MiB), headers: octets })).status).toBe(204);
    expect(figures(await usageOf(token))).toEqual({ ...start, image_count_total: start.image_count_total! + 1, image_count_uploading: start.image_count_uploading! + 1, image_stage_total: start.image_stage_total! + 2 });
    // Staging is full (2 MiB): another stage is refused, and that image stays queued.
    const second = await createImage(token, { name: 'second', ...RAW });
    const over = await call(`/v2/images/${second.id}/stage`, { method: 'PUT', token, body: Buffer.alloc(MiB), headers: octets });
    expect(over.status).toBe(413);
    expect(over.body.message).toContain(`Project ${project} is over a limit for [Resource image_stage_total is over limit of 2 due to current usage 2 and delta 1]`);
    expect((await call(`/v2/images/${second.id}`, { token })).body.status).toBe('queued');

    // Imported: stored, no longer staged.
    expect((await call(`/v2/images/${staged.id}/import`, { method: 'POST', token, json: { method: { name: 'glance-direct' } } })).status).toBe(202);
    expect(await settled(token, staged.id)).toMatchObject({ status: 'active', size: 2 * MiB });
    const stored = { ...start, image_count_total: start.image_count_total! + 2, image_size_total: start.image_size_total! + 2 };
    expect(figures(await usageOf(token))).toEqual(stored);

    // Deleted: pending_delete still counts (as in Glance) until scrubbed; a restore changes nothing.
    expect((await call(`/v2/images/${staged.id}`, { method: 'DELETE', token })).status).toBe(204);
    expect(figures(await usageOf(token))).toEqual(stored);
    expect((await call(`/v2/images/${staged.id}/actions/restore`, { method: 'POST', token: admin })).status).toBe(204);
    expect(figures(await usageOf(token))).toEqual(stored);
    expect((await call(`/v2/images/${staged.id}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v2/images/${staged.id}/actions/scrub`, { method: 'POST', token: admin })).status).toBe(202);
    await usageBecomes(token, { ...start, image_count_total: start.image_count_total! + 1 });
    expect((await call(`/v2/images/${second.id}`, { method: 'DELETE', token })).status).toBe(204);
    await usageBecomes(token, start);
  });

  it("keeps counters right through the verifier's refusal and the sweeper's revert, and the audit repairs a counter edited by hand", async () => {
    const project = uniqueProject('drift');
    const token = await tokenFor(project);
    const none = { image_count_total: 0, image_count_uploading: 0, image_size_total: 0, image_stage_total: 0 };

    // Verified: the reservation becomes the stored size. Refused (a wrong checksum): it goes.
    const kept = await createImage(token, { name: 'kept', ...RAW });
    const session = (await call(`/v2/images/${kept.id}/uploads`, { method: 'POST', token, json: { size: 2 * MiB } })).body;
    expect(figures(await usageOf(token))).toEqual({ ...none, image_count_total: 1, image_count_uploading: 1, image_size_total: 2 });
    const parts = await putParts(new Uint8Array(2 * MiB), session.parts);
    expect((await call(`/v2/images/${kept.id}/uploads/${session.upload_id}/complete`, { method: 'POST', token, json: { parts } })).status).toBe(202);
    expect((await settled(token, kept.id)).status).toBe('active');
    expect(figures(await usageOf(token))).toEqual({ ...none, image_count_total: 1, image_size_total: 2 });
    const bad = await createImage(token, { name: 'bad', ...RAW });
    const liar = (await call(`/v2/images/${bad.id}/uploads`, { method: 'POST', token, json: { size: MiB, checksum: '0'.repeat(32) } })).body;
    const liarParts = await putParts(new Uint8Array(MiB), liar.parts);
    await call(`/v2/images/${bad.id}/uploads/${liar.upload_id}/complete`, { method: 'POST', token, json: { parts: liarParts } });
    expect(await settled(token, bad.id)).toMatchObject({ status: 'queued', size: null });
    expect(figures(await usageOf(token))).toEqual({ ...none, image_count_total: 2, image_size_total: 2 });

    // An upload session left to expire: the sweeper queues the image again and frees its reservation.
    const left = await createImage(token, { name: 'left', ...RAW });
    expect((await call(`/v2/images/${left.id}/uploads`, { method: 'POST', token, json: { size: 3 * MiB } })).status).toBe(201);
    expect(figures(await usageOf(token))).toEqual({ ...none, image_count_total: 3, image_count_uploading: 1, image_size_total: 5 });
    const dayLater = new Date(Date.now() + 25 * 3600 * 1000).toISOString();
    expect((await sweep({ jobs: ['uploads'], as_of: dayLater, image_ids: [left.id] })).expiredUploads).toEqual([left.id]);
    const right = { ...none, image_count_total: 3, image_size_total: 2 };
    expect(figures(await usageOf(token))).toEqual(right);
    expect((await sweep({ jobs: ['audit'], image_ids: [left.id] })).usageDrift).toEqual([]);

    // A hand edit of the counters: the audit reports the drift and repairs it.
    const counters = usageCounters();
    const stored = await counters.get(project);
    expect(stored.usage).toEqual({ ...right, image_size_total: 2 * MiB });
    const edited = { ...none, image_count_total: 40, image_size_total: 7 };
    expect(await counters.repair(stored, edited)).toBe(true);
    expect(figures(await usageOf(token))).toMatchObject({ image_count_total: 40 });
    const report = await sweep({ jobs: ['audit'], image_ids: [left.id] });
    expect(report.usageDrift).toEqual([{ project, stored: edited, actual: { ...right, image_size_total: 2 * MiB }, repaired: true }]);
    expect(figures(await usageOf(token))).toEqual(right);
    expect((await sweep({ jobs: ['audit'], image_ids: [left.id] })).usageDrift).toEqual([]);
    await deleteAll(token, project);
    await usageBecomes(token, none);
  });

  it("moves usage with an image an admin gives to another project, refused (413) when it does not fit there", async () => {
    const from = uniqueProject('giver');
    const to = uniqueProject('taker');
    const [giver, taker, admin] = await Promise.all([tokenFor(from), tokenFor(to), tokenFor(uniqueProject('admin'), ['admin'])]);
    const image = await createImage(giver, { name: 'gift', ...RAW });
    const body = Buffer.alloc(4 * MiB);
    expect((await call(`/v2/images/${image.id}/file`, { method: 'PUT', token: giver, body, headers: { 'Content-Type': 'application/octet-stream' } })).status).toBe(204);
    expect(figures(await usageOf(giver))).toMatchObject({ image_count_total: 1, image_size_total: 4 });

    // Into a project whose 3 MiB cannot hold it: 413, and the image stays where it was.
    const full = await patch(admin, image.id, [{ op: 'replace', path: '/owner', value: QUOTA_PROJECTS.size }]);
    expect(full.status).toBe(413);
    expect(full.body.message).toMatch(new RegExp(`Project ${QUOTA_PROJECTS.size} is over a limit for \\[Resource image_size_total is over limit of 3 due to current usage \\d+ and delta 4\\]$`));
    expect((await call(`/v2/images/${image.id}`, { token: giver })).body.owner).toBe(from);

    const moved = await patch(admin, image.id, [{ op: 'replace', path: '/owner', value: to }]);
    expect(moved.status).toBe(200);
    expect(figures(await usageOf(giver))).toMatchObject({ image_count_total: 0, image_size_total: 0 });
    expect(figures(await usageOf(taker))).toMatchObject({ image_count_total: 1, image_size_total: 4 });
    await deleteAll(taker, to);
    await usageBecomes(taker, { image_count_total: 0, image_count_uploading: 0, image_size_total: 0, image_stage_total: 0 });
  });
});
