import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeProcess } from '../crash/runtime-process.js';
import { KeystoneServer } from '../keystone/keystone-server.js';
import { acceptedRandomDiskFormats, exclusions, runTempest, shortName, type TempestResult } from './tempest-suite.js';

/**
 * OpenStack's own test suite for image services: Debian's Tempest 33, `tempest.api.image.v2`,
 * against `npm start` in Keystone mode with a real Keystone (Debian's), Skyglass registered in
 * its catalog as `image`, as a cloud would run it. Tempest makes its own projects and users per
 * test class through Keystone (dynamic credentials: primary and alt members, an admin).
 * Any Tempest failure fails this test; the tests it may not run are in exclude-list.txt, each
 * with its reason, and every skip Tempest makes is listed in the README with its reason.
 */
const README = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
/** Tests that pass today: fewer means Tempest ran less than it should (a config or catalog fault). */
const PASSING_AT_LEAST = 45;
/** Tempest's workers: two on CI's two cores (measured fastest; see the README). */
const CONCURRENCY = 2;

describe("Tempest's image suite against Skyglass and a real Keystone", () => {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-tempest-'));
  const keystone = new KeystoneServer(join(dir, 'keystone'));
  let runtime: RuntimeProcess;
  let results: TempestResult[] = [];

  beforeAll(async () => {
    await keystone.start();
    // One store: Tempest's import waiter, given no stores, waits for the image to be in every
    // writable store the service lists, where Glance and Skyglass import to the default store only
    // (test_image_glance_direct_import could never pass with two). Several stores are tested in
    // test/api/stores.test.ts and test/compat/stores.test.ts; Tempest's multi-store tests skip here.
    runtime = new RuntimeProcess(join(dir, 'skyglass'), { KEYSTONE_URL: keystone.url, SKYGLASS_STORES: JSON.stringify([{ id: 'us', default: true }]) });
    await runtime.start();
    await keystone.registerImageService(runtime.url);
    const values = { KEYSTONE_URL: keystone.url, ADMIN_PASSWORD: keystone.adminPassword, DISK_FORMATS: acceptedRandomDiskFormats().join(',') };
    results = await runTempest(join(dir, 'tempest'), values, CONCURRENCY);
    const count = (status: string) => results.filter((r) => r.status === status).length;
    const lines = results
      .filter((r) => r.status !== 'success')
      .map((r) => `  ${r.status.padEnd(7)} ${shortName(r.id)}${r.reason ? `: ${r.reason}` : ''}`)
      .sort();
    console.log(`Tempest tempest.api.image.v2: ${count('success')} passed, ${count('fail') + count('uxsuccess')} failed, ${count('skip')} skipped\n${lines.join('\n')}`);
  });
  afterAll(async () => {
    await runtime?.stop();
    await keystone.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every test it runs', () => {
    const failures = results.filter((r) => r.status === 'fail' || r.status === 'uxsuccess');
    expect(failures.map((r) => `${r.id}\n${r.traceback ?? r.reason ?? ''}`).join('\n\n')).toBe('');
    expect(results.filter((r) => r.status === 'success').length).toBeGreaterThanOrEqual(PASSING_AT_LEAST);
  });

  it('runs none of the excluded tests, and the README lists each exclusion with its reason', () => {
    const listed = exclusions();
    expect(listed.length).toBeGreaterThan(0);
    for (const { pattern, reason } of listed) {
      expect(reason, `${pattern} has no reason`).not.toBe('');
      expect(results.filter((r) => pattern.test(r.id)).map((r) => r.id)).toEqual([]);
      expect(README, `the README's Tempest section names ${pattern.source}`).toContain(`\`${pattern.source}\``);
    }
  });

  it('skips only tests the README lists with their reason', () => {
    const skipped = results.filter((r) => r.status === 'skip').map((r) => shortName(r.id));
    expect(skipped.filter((name) => !README.includes(`\`${name}\``))).toEqual([]);
  });
});
