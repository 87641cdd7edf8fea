import { describe, expect, it } from 'vitest';
import { claimed, holdsBytes, isClaimed, pendingDelete, pendingScrubOf, restored } from '../../shared/domain/deletion.js';
import type { Image, UploadSession } from '../../shared/domain/image.js';
import { canTransition, type ImageStatus } from '../../shared/domain/status.js';
import { sampleImage } from '../support/sample-image.js';

const NOW = new Date('2030-01-02T03:04:05Z');
const DELAYED = { delayedDelete: true, scrubDelaySeconds: 3600 };
const SESSION: UploadSession = {
  upload_id: 'u1', store_upload_id: 's1', key: 'images/x/u1', size: 10, part_size: 10, part_count: 1, stage: false,
  created_at: '2030-01-02T03:00:00Z', expires_at: '2030-01-03T03:00:00Z', state: 'open', checksum: null, os_hash_value: null,
};
const withBytes = (status: ImageStatus, extra: Partial<Image> = {}) =>
  sampleImage({ status, disk_format: 'raw', container_format: 'bare', location: 'images/x/k', version: 7, ...extra });

describe('delete decisions (shared/domain/deletion.ts)', () => {
  it('sees bytes in a stored or staged object and in an open upload, and none in a bare image', () => {
    expect(holdsBytes(sampleImage())).toBe(false);
    expect(holdsBytes(sampleImage({ location: 'images/x/k' }))).toBe(true);
    expect(holdsBytes(sampleImage({ status: 'saving', upload: SESSION }))).toBe(true);
  });

  it('keeps verified data for the restore window and restores it to what it was', () => {
    for (const status of ['active', 'deactivated'] as const) {
      const { image, delaySeconds } = pendingDelete(withBytes(status), DELAYED, NOW);
      expect(delaySeconds, status).toBe(3600);
      expect(image.status).toBe('pending_delete');
      expect(canTransition(status, 'pending_delete')).toBe(true);
      expect(image.scrub).toEqual({ version: 7, due_at: '2030-01-02T04:04:05Z', restore_to: status, claimed_at: null });
      const back = restored(image);
      expect(back).toMatchObject({ status, scrub: null, location: 'images/x/k' });
      expect(canTransition('pending_delete', status)).toBe(true);
    }
  });

  it('scrubs bytes never verified at once, with nothing to restore', () => {
    const cases: Image[] = [
      withBytes('saving', { location: null, upload: SESSION }),
      withBytes('saving', { upload: { ...SESSION, state: 'completing' } }),
      withBytes('saving'),
      withBytes('uploading', { location: null, upload: { ...SESSION, stage: true } }),
      withBytes('uploading'),
      withBytes('importing'),
    ];
    for (const before of cases) {
      const { image, delaySeconds } = pendingDelete(before, DELAYED, NOW);
      expect(delaySeconds, before.status).toBe(0);
      expect(image.scrub).toMatchObject({ due_at: '2030-01-02T03:04:05Z', restore_to: null });
      expect(canTransition(before.status, 'pending_delete'), before.status).toBe(true);
      expect(() => restored(image)).toThrow(/before its data was verified/);
    }
  });

  it('without delayed delete scrubs verified data at once too, still restorable until claimed', () => {
    const { image, delaySeconds } = pendingDelete(withBytes('active'), { delayedDelete: false, scrubDelaySeconds: 3600 }, NOW);
    expect(delaySeconds).toBe(0);
    expect(restored(image).status).toBe('active');
  });

  it('refuses a restore once the scrubber has claimed the image, and of anything not pending_delete', () => {
    const { image } = pendingDelete(withBytes('active'), DELAYED, NOW);
    expect(isClaimed(image)).toBe(false);
    const taken = claimed(image, NOW);
    expect(isClaimed(taken)).toBe(true);
    expect(taken.scrub).toMatchObject({ version: 7, claimed_at: '2030-01-02T03:04:05Z', restore_to: 'active' });
    expect(() => restored(taken)).toThrow(expect.objectContaining({ status: 409, message: expect.stringContaining('being scrubbed') }));
    expect(() => restored(withBytes('active'))).toThrow(expect.objectContaining({ status: 409 }));
    expect(isClaimed(withBytes('active', { scrub: taken.scrub }))).toBe(false);
  });

  it('reads a pending_delete item written before PendingScrub existed as a restorable delete of its version', () => {
    const legacy = withBytes('pending_delete', { version: 9, updated_at: '2030-01-01T00:00:00Z' });
    expect(pendingScrubOf(legacy)).toEqual({ version: 9, due_at: '2030-01-01T00:00:00Z', restore_to: 'active', claimed_at: null });
    expect(restored(legacy).status).toBe('active');
  });
});
