import { describe, expect, it } from 'vitest';
import { canTransition, IMAGE_STATUSES, isImageStatus, sourcesOf, type ImageStatus } from '../../shared/domain/status.js';

/**
 * DESIGN §2, written out independently of shared/domain/status.ts: every allowed
 * (from → to) pair. Anything not listed must be refused.
 */
const EXPECTED: Record<string, string[]> = {
  queued: ['saving', 'uploading', 'importing', 'active', 'deleted'],
  // Delete sends every image holding bytes through pending_delete and the scrubber (issue #8).
  saving: ['active', 'killed', 'deleted', 'queued', 'pending_delete'],
  uploading: ['importing', 'queued', 'deleted', 'pending_delete'],
  importing: ['active', 'deleted', 'queued', 'pending_delete'],
  // "queued when its last location is removed" is part of the table.
  active: ['pending_delete', 'deleted', 'deactivated', 'queued'],
  killed: ['deleted'],
  // Restore returns a deleted deactivated image to deactivated.
  pending_delete: ['deleted', 'active', 'deactivated'],
  deactivated: ['active', 'deleted', 'pending_delete'],
  deleted: [],
};

const ALL = [
  'queued', 'saving', 'uploading', 'importing', 'active', 'deactivated', 'killed', 'pending_delete', 'deleted',
] as const;

describe('image status machine (DESIGN §2)', () => {
  it('knows exactly the nine Glance statuses', () => {
    expect([...IMAGE_STATUSES].sort()).toEqual([...ALL].sort());
    expect(Object.keys(EXPECTED).sort()).toEqual([...ALL].sort());
  });

  for (const from of ALL) {
    for (const to of ALL) {
      const allowed = EXPECTED[from]!.includes(to);
      it(`${from} → ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        expect(canTransition(from, to)).toBe(allowed);
      });
    }
  }

  it('never allows a status to transition to itself', () => {
    for (const s of ALL) expect(canTransition(s, s)).toBe(false);
  });

  it('deleted is terminal', () => {
    for (const to of ALL) expect(canTransition('deleted', to)).toBe(false);
  });

  for (const to of ALL) {
    it(`sourcesOf(${to}) is every status that may reach it`, () => {
      const expected = ALL.filter((from) => EXPECTED[from]!.includes(to));
      const sources = sourcesOf(to);
      expect([...sources].sort()).toEqual([...expected].sort());
      expect(new Set(sources).size).toBe(sources.length);
      for (const from of sources) expect(canTransition(from, to)).toBe(true);
      for (const from of ALL.filter((s) => !sources.includes(s))) expect(canTransition(from, to)).toBe(false);
    });
  }

  it('spot-checks the condition lists the adapter derives', () => {
    expect([...sourcesOf('active')].sort()).toEqual(['deactivated', 'importing', 'pending_delete', 'queued', 'saving']);
    expect([...sourcesOf('queued')].sort()).toEqual(['active', 'importing', 'saving', 'uploading']);
    expect(sourcesOf('killed')).toEqual(['saving']);
    expect([...sourcesOf('pending_delete')].sort()).toEqual(['active', 'deactivated', 'importing', 'saving', 'uploading']);
    expect([...sourcesOf('deactivated')].sort()).toEqual(['active', 'pending_delete']);
    expect([...sourcesOf('deleted')].sort()).toEqual(
      ['active', 'deactivated', 'importing', 'killed', 'pending_delete', 'queued', 'saving', 'uploading'],
    );
  });

  it('isImageStatus accepts only the statuses', () => {
    for (const s of ALL) expect(isImageStatus(s)).toBe(true);
    for (const v of ['QUEUED', 'bogus', '', null, undefined, 1, {}]) expect(isImageStatus(v)).toBe(false);
    const typed: ImageStatus = 'queued';
    expect(isImageStatus(typed)).toBe(true);
  });
});
