import { describe, expect, it } from 'vitest';
import { copyParts, DEFAULT_COPY_SETTINGS } from '../../shared/app/server-copy.js';
import type { Image } from '../../shared/domain/image.js';
import { copyingTo, copyRecorded, copyTargets, StoreCatalog } from '../../shared/domain/stores.js';
import { importTaskSettlement } from '../../shared/domain/task.js';
import { sampleImage } from '../support/sample-image.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const NOW = new Date('2030-01-02T03:04:05Z');
const catalog = new StoreCatalog(
  ['us', 'eu', 'ap'].map((id, i) => ({ id, bucket: `b-${id}`, region: 'us-east-1', description: id, default: i === 0 })),
  true,
);
const active = (extra: Partial<Image> = {}) =>
  sampleImage({ status: 'active', disk_format: 'raw', container_format: 'bare', location: 'images/x/k', size: 3 * MiB, stores: ['us'], task_id: 't1', ...extra });

describe('copy-image targets (Glance import_image)', () => {
  it('names the stores asked for; one the image is in is 400; all_stores skips those, and with nothing left there is nothing to do', () => {
    expect(copyTargets(catalog, active(), { stores: ['eu'] }, undefined)).toEqual({ stores: ['eu'], all_stores_must_succeed: true });
    expect(() => copyTargets(catalog, active(), { stores: ['eu', 'us'] }, undefined)).toThrow("Image is already present at store 'us'");
    expect(copyTargets(catalog, active(), { all_stores: true, all_stores_must_succeed: false }, undefined)).toEqual({ stores: ['eu', 'ap'], all_stores_must_succeed: false });
    expect(copyTargets(catalog, active({ stores: ['us', 'eu', 'ap'] }), { all_stores: true }, undefined)).toBeNull();
    // An image from before stores were configured is in the default store.
    expect(copyTargets(catalog, active({ stores: [] }), { all_stores: true }, undefined)?.stores).toEqual(['eu', 'ap']);
    expect(() => copyTargets(StoreCatalog.single('b', 'us-east-1'), active(), { stores: ['eu'] }, undefined)).toThrow(/one store/);
  });
});

describe('copy-image progress, store by store (copyRecorded)', () => {
  const started = (mustSucceed: boolean) => copyingTo(active(), { stores: ['eu', 'ap'], all_stores_must_succeed: mustSucceed }, ['us']);

  it('adds each copied store, lists each failed one, and ends the import with the last', () => {
    const first = copyRecorded(started(false), 'eu', true);
    expect(first.finished).toBe(false);
    expect(first.image).toMatchObject({ stores: ['us', 'eu'], properties: { os_glance_importing_to_stores: 'ap', os_glance_failed_import: '' } });
    expect(first.image.import_targets).not.toBeNull();
    const last = copyRecorded(first.image, 'ap', false);
    expect(last).toMatchObject({ finished: true, revoked: [] });
    expect(last.image).toMatchObject({ stores: ['us', 'eu'], import_targets: null, properties: { os_glance_importing_to_stores: '', os_glance_failed_import: 'ap' } });
  });

  it('gives up the copies it made when a store it had to reach failed (all_stores_must_succeed)', () => {
    const first = copyRecorded(started(true), 'eu', true);
    const last = copyRecorded(first.image, 'ap', false);
    expect(last).toMatchObject({ finished: true, revoked: ['eu'] });
    expect(last.image).toMatchObject({ stores: ['us'], import_targets: null, properties: { os_glance_failed_import: 'ap' } });
  });

  it('a store recorded twice (a retry) changes nothing more', () => {
    const first = copyRecorded(started(false), 'eu', true).image;
    expect(copyRecorded(first, 'eu', true).image.stores).toEqual(['us', 'eu']);
  });
});

describe("copy-image's task (importTaskSettlement)", () => {
  const running = copyingTo(active(), { stores: ['eu'], all_stores_must_succeed: true }, ['us']);

  it('keeps running while the image is copying, whatever else is written (a PATCH, a deactivation)', () => {
    expect(importTaskSettlement(running, { ...running, name: 'renamed' }, NOW)).toBeUndefined();
    expect(importTaskSettlement(running, { ...running, status: 'deactivated' }, NOW)).toBeUndefined();
  });

  it('succeeds with the write that ends the copy, fails where a store it had to reach failed, and fails if the image is deleted first', () => {
    expect(importTaskSettlement(running, copyRecorded(running, 'eu', true).image, NOW)).toMatchObject({ status: 'success', message: 'Copied 3 MiB' });
    expect(importTaskSettlement(running, copyRecorded(running, 'eu', false).image, NOW)).toMatchObject({ status: 'failure', message: 'The image could not be copied to store(s) eu.' });
    expect(importTaskSettlement(running, { ...running, status: 'pending_delete' }, NOW)).toMatchObject({ status: 'failure' });
  });
});

describe('multipart copy parts (copyParts)', () => {
  it('cuts the object in parts of the set size, the last shorter, covering every byte once', () => {
    const parts = copyParts(12 * MiB, { ...DEFAULT_COPY_SETTINGS, partBytes: 5 * MiB });
    expect(parts).toEqual([
      { start: 0, end: 5 * MiB - 1 },
      { start: 5 * MiB, end: 10 * MiB - 1 },
      { start: 10 * MiB, end: 12 * MiB - 1 },
    ]);
  });

  it("keeps to S3's limits: parts of 5 MiB at least, at most 10 000 of them", () => {
    expect(copyParts(12 * MiB, { ...DEFAULT_COPY_SETTINGS, partBytes: 1 })).toHaveLength(3);
    const huge = copyParts(5 * 1024 * GiB, DEFAULT_COPY_SETTINGS);
    expect(huge.length).toBeLessThanOrEqual(10_000);
    expect(huge.at(-1)!.end).toBe(5 * 1024 * GiB - 1);
    expect(copyParts(100 * GiB, DEFAULT_COPY_SETTINGS)).toHaveLength(200);
  });
});

describe("copy-image's place in the status index (imageItem)", () => {
  it('puts an image under `copying` while its copy-image import runs, and takes it out with the write that ends it', async () => {
    const { imageItem } = await import('../../shared/adapters/dynamo-image-repository.js');
    const running = copyingTo(active(), { stores: ['eu'], all_stores_must_succeed: true }, ['us']);
    expect(imageItem(running, [], undefined)).toMatchObject({ statusPk: 'copying' });
    expect(imageItem(copyRecorded(running, 'eu', true).image, [], undefined)).not.toHaveProperty('statusPk');
    expect(imageItem(active({ task_id: null }), [], undefined)).not.toHaveProperty('statusPk');
    expect(imageItem(sampleImage({ status: 'importing', location: 'images/x/k' }), [], undefined)).toMatchObject({ statusPk: 'importing' });
  });
});
