import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { RuntimeProcess } from '../crash/runtime-process.js';
import { startSourceServer, type SourceServer } from '../api/source-server.js';
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
const PASSING_AT_LEAST = 68;
/** Tempest's workers: two on CI's two cores (measured fastest; see the README). */
const CONCURRENCY = 2;
/**
 * Tempest's multi-store tests, run in their own pass against two stores: the multi-store import
 * class, and copy-image (with one store it has nowhere to copy to, and its waiter then waits for
 * progress properties a copy that does nothing never sets, as with Glance).
 */
const MULTI_STORE_TESTS = '^tempest\\.api\\.image\\.v2\\.(test_images\\.MultiStoresImportImagesTest|admin\\.test_images\\.ImportCopyImagesTest)\\.';

describe("Tempest's image suite against Skyglass and a real Keystone", () => {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-tempest-'));
  const keystone = new KeystoneServer(join(dir, 'keystone'));
  let oneStore: RuntimeProcess | undefined;
  let twoStores: RuntimeProcess | undefined;
  let results: TempestResult[] = [];
  /** Serves `[image] http_image`, what test_image_web_download_import imports with web-download. */
  let httpImage: SourceServer | undefined;

  beforeAll(async () => {
    await keystone.start();
    httpImage = await startSourceServer();
    httpImage.serve('tempest.raw', randomBytes(1024 * 1024));
    // web-download from 127.0.0.1 (loopback is the local runtime's default) on the server's port.
    const webDownload = { SKYGLASS_IMPORT_ALLOWED_PORTS: `80,443,${httpImage.port}` };
    // Two passes. The whole suite with one store: given no stores, Tempest's import waiter waits
    // for the image to be in every writable store the service lists, where Glance and Skyglass
    // import into the default store only, so test_image_glance_direct_import cannot pass with two.
    // Then the multi-store class, which needs two, against a runtime with `us` and `eu` that the
    // catalog's endpoint is moved to.
    const values = { KEYSTONE_URL: keystone.url, ADMIN_PASSWORD: keystone.adminPassword, DISK_FORMATS: acceptedRandomDiskFormats().join(','), HTTP_IMAGE: `${httpImage.base}/file/tempest.raw` };
    const defaultStore = { id: 'us', bucket: 'skyglass-local-images', default: true };
    // It records no AWS calls: test/iam checks them against one stack's grants, whose store
    // configuration is npm start's; the two-store runtime below records its calls like the rest.
    oneStore = new RuntimeProcess(join(dir, 'one-store'), { KEYSTONE_URL: keystone.url, SKYGLASS_STORES: JSON.stringify([defaultStore]), SKYGLASS_AWS_CALL_LOG: '', ...webDownload });
    await oneStore.start();
    await keystone.registerImageService(oneStore.url);
    results = await runTempest(join(dir, 'tempest'), values, CONCURRENCY, { excludeRegex: MULTI_STORE_TESTS });
    await oneStore.stop();
    oneStore = undefined;
    twoStores = new RuntimeProcess(join(dir, 'two-stores'), { KEYSTONE_URL: keystone.url, ...webDownload }); // npm start's us and eu
    await twoStores.start();
    await keystone.moveImageService(twoStores.url);
    results.push(...(await runTempest(join(dir, 'tempest-stores'), values, 1, { regex: MULTI_STORE_TESTS })));
    const count = (status: string) => results.filter((r) => r.status === status).length;
    const lines = results
      .filter((r) => r.status !== 'success')
      .map((r) => `  ${r.status.padEnd(7)} ${shortName(r.id)}${r.reason ? `: ${r.reason}` : ''}`)
      .sort();
    console.log(`Tempest tempest.api.image.v2: ${count('success')} passed, ${count('fail') + count('uxsuccess')} failed, ${count('skip')} skipped\n${lines.join('\n')}`);
  });
  afterAll(async () => {
    await oneStore?.stop();
    await twoStores?.stop();
    await keystone.stop();
    await httpImage?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes every test it runs', () => {
    const failures = results.filter((r) => r.status === 'fail' || r.status === 'uxsuccess');
    expect(failures.map((r) => `${r.id}\n${r.traceback ?? r.reason ?? ''}`).join('\n\n')).toBe('');
    expect(results.filter((r) => r.status === 'success').length).toBeGreaterThanOrEqual(PASSING_AT_LEAST);
  });

  it('runs the whole suite: the exclude list is empty', () => {
    // Every test of tempest.api.image.v2 runs; a test Skyglass cannot pass goes in exclude-list.txt
    // with its reason, in the README's Tempest section, and here.
    expect(exclusions()).toEqual([]);
  });

  it('skips only tests the README lists with their reason', () => {
    const skipped = results.filter((r) => r.status === 'skip').map((r) => shortName(r.id));
    expect(skipped.filter((name) => !README.includes(`\`${name}\``))).toEqual([]);
  });
});
