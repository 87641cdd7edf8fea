import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pendingDelete, restored } from '../../shared/domain/deletion.js';
import { queuedWithoutData, type Image, type UploadSession } from '../../shared/domain/image.js';
import {
  addUsage,
  limitsFor,
  MiB,
  NO_USAGE,
  overLimits,
  parseQuotaConfig,
  QuotaExceededError,
  usageByProject,
  usageDeltas,
  usageOf,
  usageView,
  type Usage,
} from '../../shared/domain/quota.js';
import { IMAGE_STATUSES } from '../../shared/domain/status.js';
import { sampleImage } from '../support/sample-image.js';

const NOW = new Date('2030-01-02T03:04:05Z');
const SESSION: UploadSession = {
  upload_id: 'u1', store_upload_id: 's1', key: 'images/x/u1', size: 3 * MiB, part_size: 3 * MiB, part_count: 1, stage: false,
  created_at: '2030-01-02T03:00:00Z', expires_at: '2030-01-03T03:00:00Z', state: 'open', checksum: null, os_hash_value: null,
};
const image = (extra: Partial<Image> = {}) => sampleImage({ owner: 'A', disk_format: 'raw', container_format: 'bare', ...extra });
const usage = (u: Partial<Usage>): Usage => ({ ...NO_USAGE, ...u });

describe('what an image counts (shared/domain/quota.ts, as glance/db counts it)', () => {
  it('counts every image not killed or deleted, pending_delete included', () => {
    for (const status of IMAGE_STATUSES) {
      expect(usageOf(image({ status })).image_count_total, status).toBe(status === 'killed' || status === 'deleted' ? 0 : 1);
    }
    expect(usageOf(image({ owner: null }))).toEqual(NO_USAGE);
  });

  it('counts saving, uploading and importing as uploading', () => {
    const uploading = IMAGE_STATUSES.filter((status) => usageOf(image({ status })).image_count_uploading === 1);
    expect(uploading).toEqual(['saving', 'uploading', 'importing']);
  });

  it('counts stored bytes toward image_size_total and staged bytes toward image_stage_total', () => {
    expect(usageOf(image({ status: 'active', size: 5 }))).toEqual(usage({ image_count_total: 1, image_size_total: 5 }));
    expect(usageOf(image({ status: 'deactivated', size: 5 })).image_size_total).toBe(5);
    // An open session reserves what it declared; staged, it reserves staging space instead.
    expect(usageOf(image({ status: 'saving', upload: SESSION }))).toEqual(usage({ image_count_total: 1, image_count_uploading: 1, image_size_total: 3 * MiB }));
    expect(usageOf(image({ status: 'uploading', upload: { ...SESSION, stage: true } }))).toEqual(
      usage({ image_count_total: 1, image_count_uploading: 1, image_stage_total: 3 * MiB }),
    );
    expect(usageOf(image({ status: 'uploading', size: 7, location: 'k' })).image_stage_total).toBe(7);
    // Importing: still staged, and already counted as stored (Glance checks image_size_total at import).
    expect(usageOf(image({ status: 'importing', size: 7, location: 'k' }))).toEqual(
      usage({ image_count_total: 1, image_count_uploading: 1, image_size_total: 7, image_stage_total: 7 }),
    );
    expect(usageOf(image({ status: 'queued' }))).toEqual(usage({ image_count_total: 1 }));
  });

  it('keeps a deleted image counted until it is scrubbed, and restoring it changes nothing', () => {
    const active = image({ status: 'active', size: 9, location: 'k', version: 3 });
    const pending = pendingDelete(active, { delayedDelete: true, scrubDelaySeconds: 60 }, NOW).image;
    expect(usageDeltas(active, pending)).toEqual([]);
    expect(usageDeltas(pending, restored(pending))).toEqual([]);
    expect(usageDeltas(pending, { ...pending, status: 'deleted' })).toEqual([{ project: 'A', delta: usage({ image_count_total: -1, image_size_total: -9 }) }]);
    // Deleted before its bytes were verified: the reservation goes at once.
    const saving = image({ status: 'saving', upload: SESSION });
    const gone = pendingDelete(saving, { delayedDelete: true, scrubDelaySeconds: 60 }, NOW).image;
    expect(usageDeltas(saving, gone)).toEqual([{ project: 'A', delta: usage({ image_count_uploading: -1, image_size_total: -3 * MiB }) }]);
  });

  it('changes nothing when a reserved upload is verified, and frees it when refused', () => {
    const completing = image({ status: 'saving', location: 'k', upload: { ...SESSION, state: 'completing' } });
    const active = { ...completing, status: 'active' as const, upload: null, size: SESSION.size };
    expect(usageDeltas(completing, active)).toEqual([{ project: 'A', delta: usage({ image_count_uploading: -1 }) }]);
    expect(usageDeltas(completing, queuedWithoutData(completing, 'refused'))).toEqual([
      { project: 'A', delta: usage({ image_count_uploading: -1, image_size_total: -3 * MiB }) },
    ]);
  });

  it('moves the usage between projects when the owner changes', () => {
    const before = image({ status: 'active', size: 4 });
    expect(usageDeltas(before, { ...before, owner: 'B' })).toEqual([
      { project: 'A', delta: usage({ image_count_total: -1, image_size_total: -4 }) },
      { project: 'B', delta: usage({ image_count_total: 1, image_size_total: 4 }) },
    ]);
    expect(usageDeltas(undefined, image())).toEqual([{ project: 'A', delta: usage({ image_count_total: 1 }) }]);
  });

  it('keeps counters equal to the usage recomputed from the images, whatever the sequence of writes', () => {
    const owners = fc.constantFrom('A', 'B', 'C', null);
    const session = fc.record({ size: fc.nat(10 * MiB), stage: fc.boolean(), state: fc.constantFrom('open' as const, 'completing' as const) });
    const state = fc.record({
      status: fc.constantFrom(...IMAGE_STATUSES),
      owner: owners,
      size: fc.option(fc.nat(10 * MiB)),
      upload: fc.option(session),
      restoreTo: fc.constantFrom('active' as const, 'deactivated' as const, null, undefined),
    });
    const write = fc.record({ id: fc.integer({ min: 0, max: 4 }), state });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 60 }), (writes) => {
        const images = new Map<number, Image>();
        const counters = new Map<string, Usage>();
        for (const { id, state: s } of writes) {
          const next = image({
            id: `00000000-0000-4000-8000-00000000000${id}`,
            status: s.status,
            owner: s.owner,
            size: s.size,
            upload: s.upload ? { ...SESSION, ...s.upload } : null,
            scrub: s.restoreTo === undefined ? null : { version: 1, due_at: '2030-01-01T00:00:00Z', restore_to: s.restoreTo, claimed_at: null },
          });
          for (const { project, delta } of usageDeltas(images.get(id), next)) counters.set(project, addUsage(counters.get(project) ?? NO_USAGE, delta));
          images.set(id, next);
        }
        const recomputed = usageByProject(images.values());
        for (const project of new Set([...counters.keys(), ...recomputed.keys()])) {
          expect(counters.get(project) ?? NO_USAGE).toEqual(recomputed.get(project) ?? NO_USAGE);
        }
      }),
      { seed: 9, numRuns: 300 },
    );
  });
});

describe('limits and the 413', () => {
  const config = parseQuotaConfig(
    { defaults: { image_count_total: 100, image_size_total: 1024 }, projects: { small: { image_count_total: 10, image_stage_total: 1 } } },
    'QUOTAS_FILE q.json',
  );

  it('takes each project override over the default', () => {
    expect(limitsFor(config, 'small')).toEqual({ image_count_total: 10, image_size_total: 1024, image_stage_total: 1 });
    expect(limitsFor(config, 'other')).toEqual({ image_count_total: 100, image_size_total: 1024 });
    expect(limitsFor(config, '__proto__')).toEqual({ image_count_total: 100, image_size_total: 1024 });
  });

  it('refuses only increases that go over (usage + delta > limit), in MiB for sizes', () => {
    const limits = limitsFor(config, 'small');
    expect(overLimits(limits, usage({ image_count_total: 9 }), usage({ image_count_total: 1 }))).toEqual([]);
    expect(overLimits(limits, usage({ image_count_total: 10 }), usage({ image_count_total: 1 }))).toEqual([
      { resource: 'image_count_total', limit: 10, usage: 10, delta: 1 },
    ]);
    expect(overLimits(limits, usage({ image_count_total: 50 }), usage({ image_count_total: -1 }))).toEqual([]);
    expect(overLimits(limits, usage({ image_stage_total: MiB - 1 }), usage({ image_stage_total: 1 }))).toEqual([]);
    expect(overLimits(limits, usage({ image_stage_total: MiB - 1 }), usage({ image_stage_total: 2 }))).toEqual([
      { resource: 'image_stage_total', limit: 1, usage: 0, delta: 1 },
    ]);
    // Unlimited: absent, or -1 as Keystone writes it.
    expect(overLimits({ image_count_total: -1 }, usage({ image_count_total: 1e9 }), usage({ image_count_total: 1 }))).toEqual([]);
  });

  it("answers Glance's LimitExceeded text with oslo.limit's body", () => {
    const error = new QuotaExceededError('small', [{ resource: 'image_count_total', limit: 10, usage: 10, delta: 1 }]);
    expect(error.status).toBe(413);
    expect(error.toBody()).toEqual({
      message:
        'The request returned a 413 Request Entity Too Large. This generally means that rate limiting or a quota threshold was breached.\n\n' +
        'The response body:\nProject small is over a limit for [Resource image_count_total is over limit of 10 due to current usage 10 and delta 1]',
      code: '413 Request Entity Too Large',
      title: 'Request Entity Too Large',
    });
  });

  it("shows usage in Glance's shape: {} without quotas, -1 for unlimited, sizes in whole MiB", () => {
    expect(usageView(undefined, 'small', NO_USAGE)).toEqual({ usage: {} });
    expect(usageView(config, 'small', usage({ image_count_total: 3, image_size_total: 5 * MiB + 7 }))).toEqual({
      usage: {
        image_count_total: { limit: 10, usage: 3 },
        image_count_uploading: { limit: -1, usage: 0 },
        image_size_total: { limit: 1024, usage: 5 },
        image_stage_total: { limit: 1, usage: 0 },
      },
    });
  });

  it('refuses a malformed configuration, naming where and what', () => {
    const bad: Array<[unknown, RegExp]> = [
      [[], /src: must be a JSON object/],
      [{ limits: {} }, /unknown key "limits"/],
      [{ defaults: { image_count: 1 } }, /defaults names "image_count", which is not one of image_count_total/],
      [{ defaults: { image_count_total: 1.5 } }, /defaults.image_count_total must be a whole number/],
      [{ defaults: { image_count_total: -2 } }, /defaults.image_count_total must be a whole number/],
      [{ projects: { p: { image_size_total: '1' } } }, /projects.p.image_size_total must be a whole number/],
      [{ projects: [] }, /"projects" must be an object/],
    ];
    for (const [value, message] of bad) expect(() => parseQuotaConfig(value, 'src'), JSON.stringify(value)).toThrow(message);
    expect(parseQuotaConfig({}, 'src')).toEqual({ defaults: {}, projects: {} });
  });
});
