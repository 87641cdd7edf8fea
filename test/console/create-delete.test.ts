import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { injectFault } from '../api/faults.js';
import { until } from '../api/data-helpers.js';
import { launchChromium, listStatus, openConsole, screenshot, shownNames, signIn, type ConsolePage } from './browser.js';

/** Creating an image with its file through the uploads extension, and deleting one, in the console. */

let browser: Browser;
const scratch = mkdtempSync(join(tmpdir(), 'skyglass-console-'));
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function expectQuiet({ trouble }: ConsolePage) {
  expect(trouble.errors).toEqual([]);
  expect(trouble.dialogs).toEqual([]);
}

/** A real qcow2 holding `mib` MiB of random data (12 MiB: two of the server's 8 MiB parts). */
function makeQcow2(name = 'disk', mib = 12): string {
  const raw = join(scratch, `${name}.raw`);
  const qcow2 = join(scratch, `${name}.qcow2`);
  writeFileSync(raw, randomBytes(mib * 1024 * 1024));
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  return qcow2;
}

describe('creating an image with its file', () => {
  it('sends the file in parts straight to the store, shows the progress, and ends with the image active with the file\'s hashes', async () => {
    const project = uniqueProject('console-create');
    // 40 MiB of data (and qcow2's metadata): six parts of the server's 8 MiB, six in flight at a time.
    const path = makeQcow2('disk', 40);
    const bytes = readFileSync(path);
    const partCount = Math.ceil(bytes.length / (8 * 1024 * 1024));
    expect(partCount).toBe(6);
    const c = await openConsole(browser);
    await signIn(c.page, project);
    // What the page sends where: the bytes go to the store's presigned URLs, not through the API.
    const puts: string[] = [];
    c.page.on('request', (request) => {
      if (request.method() === 'PUT') puts.push(request.url());
    });
    await c.page.getByRole('link', { name: 'Create image' }).click();
    await c.page.getByRole('heading', { name: 'Create image', level: 1 }).waitFor();
    await c.page.getByLabel('Name', { exact: true }).fill('uploaded-qcow2');
    await c.page.getByLabel('Disk format').selectOption('qcow2');
    await c.page.getByLabel('Minimum disk (GB)').fill('1');
    await c.page.getByLabel('Image file (or drop one here)').setInputFiles(path);
    await c.page.getByRole('button', { name: 'Create and upload' }).click();
    await c.page.getByText('The image is active.').waitFor();

    const progress = c.page.getByLabel('Upload progress');
    expect(await progress.getAttribute('max')).toBe(String(bytes.length));
    expect(await progress.getAttribute('value')).toBe(String(bytes.length));
    expect(await c.page.locator('.progress p').textContent()).toContain(`(100%) · parts ${partCount}/${partCount}`);
    expect(await c.page.getByRole('status').filter({ hasText: 'Verification finished.' }).count()).toBe(1);
    const store = new URL(inject('s3Endpoint')).origin;
    expect(new Set(puts.map((url) => new URL(url).origin))).toEqual(new Set([store]));
    expect(puts.map((url) => Number(new URL(url).searchParams.get('partNumber'))).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    await screenshot(c.page, 'create-uploaded');

    await c.page.getByRole('link', { name: 'Open uploaded-qcow2' }).click();
    await c.page.getByRole('heading', { name: 'uploaded-qcow2', level: 1 }).waitFor();
    const value = async (label: string) => (await c.page.locator('dl.overview div', { has: c.page.locator('dt', { hasText: label }) }).locator('dd').first().textContent()) ?? '';
    expect(await value('Status')).toBe('active');
    expect(await value('Checksum (MD5)')).toBe(createHash('md5').update(bytes).digest('hex'));
    expect(await value('Hash value (SHA-512)')).toBe(createHash('sha512').update(bytes).digest('hex'));
    expect(await value('Min. disk (GB)')).toBe('1');
    expect(await value('Size')).toBe(`${(bytes.length / 1024 / 1024).toFixed(1)} MiB (${bytes.length} bytes)`);
    expect(await value('Virtual size')).toBe('40.0 MiB (41943040 bytes)');
    expectQuiet(c);
  });

  it('resumes after a reload: the same file chosen again sends only the part the store lacks', async () => {
    const project = uniqueProject('console-resume');
    const path = makeQcow2('resumed');
    const bytes = readFileSync(path);
    const store = new URL(inject('s3Endpoint')).origin;
    const isPart = (n: number) => (url: URL) => url.origin === store && url.searchParams.get('partNumber') === String(n);
    const c = await openConsole(browser);
    await signIn(c.page, project);
    await c.page.getByRole('link', { name: 'Create image' }).click();
    await c.page.getByLabel('Name', { exact: true }).fill('resumed');
    await c.page.getByLabel('Image file (or drop one here)').setInputFiles(path);
    // Part 2 is held at the network and never answered; part 1 reaches the store; then the page reloads.
    await c.page.route(isPart(2), () => undefined);
    const part1 = c.page.waitForResponse((response) => response.request().method() === 'PUT' && isPart(1)(new URL(response.url())));
    await c.page.getByRole('button', { name: 'Create and upload' }).click();
    expect((await part1).status()).toBe(200);
    // Reloaded with part 2 still held (unrouting first would let it through); the browser drops it.
    await c.page.reload();
    await c.page.unrouteAll({ behavior: 'ignoreErrors' });

    const puts: string[] = [];
    c.page.on('request', (request) => {
      if (request.method() === 'PUT') puts.push(request.url());
    });
    await c.page.getByRole('heading', { name: 'Create image', level: 1 }).waitFor();
    await c.page.getByLabel('Image file (or drop one here)').setInputFiles(path);
    await c.page.getByText('This file is the one of an unfinished upload: 1 of 2 parts are stored already.').waitFor();
    await c.page.getByRole('button', { name: 'Resume upload' }).click();
    await c.page.getByText('The image is active.').waitFor();
    expect(puts.map((url) => new URL(url).searchParams.get('partNumber'))).toEqual(['2']);
    expect(await c.page.locator('.progress p').textContent()).toContain('(100%) · parts 2/2');

    // One image, the one the first attempt created, holding the whole file.
    const token = await tokenFor(project);
    const listed = (await call(`/v2/images?owner=${project}`, { token })).body.images as Array<Record<string, unknown>>;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      name: 'resumed',
      status: 'active',
      size: bytes.length,
      checksum: createHash('md5').update(bytes).digest('hex'),
      os_hash_value: createHash('sha512').update(bytes).digest('hex'),
    });
    // The finished upload is forgotten: nothing is left to resume.
    expect(await c.page.evaluate("localStorage.getItem('skyglass.console.open-uploads')")).toBe('[]');
  });

  it('retries a part whose connection dropped, and still ends active', async () => {
    const project = uniqueProject('console-retry');
    const path = makeQcow2('retried');
    const store = new URL(inject('s3Endpoint')).origin;
    const c = await openConsole(browser);
    await signIn(c.page, project);
    const tries: string[] = [];
    let dropped = false;
    await c.page.route(
      (url) => url.origin === store && url.searchParams.has('partNumber'),
      async (route) => {
        const part = new URL(route.request().url()).searchParams.get('partNumber') ?? '';
        tries.push(part);
        // The first try of part 2 loses its connection; every other goes through.
        if (part === '2' && !dropped) {
          dropped = true;
          return route.abort('connectionreset');
        }
        return route.continue();
      },
    );
    await c.page.getByRole('link', { name: 'Create image' }).click();
    await c.page.getByLabel('Image file (or drop one here)').setInputFiles(path);
    await c.page.getByRole('button', { name: 'Create and upload' }).click();
    await c.page.getByText('The image is active.').waitFor();
    expect(tries.sort()).toEqual(['1', '2', '2']);
    // The dropped connection is the only error the page logged.
    expect(c.trouble.errors.every((error) => error.includes('ERR_CONNECTION_RESET'))).toBe(true);
    expect(c.trouble.dialogs).toEqual([]);
  });

  it('keeps the stored parts when a part gives up, and Cancel upload aborts the session', async () => {
    const project = uniqueProject('console-cancel');
    const path = makeQcow2('cancelled');
    const store = new URL(inject('s3Endpoint')).origin;
    const c = await openConsole(browser);
    await signIn(c.page, project);
    // Part 2's connection drops on every try.
    await c.page.route(
      (url) => url.origin === store && url.searchParams.get('partNumber') === '2',
      (route) => route.abort('connectionreset'),
    );
    await c.page.getByRole('link', { name: 'Create image' }).click();
    await c.page.getByLabel('Name', { exact: true }).fill('cancelled');
    await c.page.getByLabel('Image file (or drop one here)').setInputFiles(path);
    await c.page.getByRole('button', { name: 'Create and upload' }).click();
    const alert = c.page.getByRole('alert').filter({ hasText: 'choose the same file again to resume' });
    await alert.waitFor();
    const token = await tokenFor(project);
    const [image] = (await call(`/v2/images?owner=${project}`, { token })).body.images as Array<Record<string, string>>;
    expect(image?.status).toBe('saving');
    await alert.getByRole('button', { name: 'Cancel upload' }).click();
    await c.page.getByText('The upload was cancelled; the image is queued, without data.').waitFor();
    expect((await call(`/v2/images/${image!.id}`, { token })).body.status).toBe('queued');
    expect(await c.page.evaluate("localStorage.getItem('skyglass.console.open-uploads')")).toBe('[]');
  });

  it('takes a file dropped on the form, shows it, and uploads it to active with its hashes', async () => {
    const project = uniqueProject('console-drop');
    const c = await openConsole(browser);
    await signIn(c.page, project);
    await c.page.getByRole('link', { name: 'Create image' }).click();
    await c.page.getByLabel('Disk format').selectOption('raw');
    // A drag from the desktop, as the page sees it: dragover, then drop, with the file in dataTransfer.
    const bytes = randomBytes(3 * 1024 * 1024);
    const dropped = await c.page.evaluateHandle((base64) => {
      // Runs in the page; the tests' TypeScript has no DOM library, so its two classes are typed here.
      const dom = globalThis as unknown as { DataTransfer: new () => { items: { add(file: unknown): void } }; File: new (parts: Uint8Array[], name: string, options: { type: string }) => unknown };
      const transfer = new dom.DataTransfer();
      transfer.items.add(new dom.File([Uint8Array.from(atob(base64), (ch) => ch.charCodeAt(0))], 'dropped.raw', { type: 'application/octet-stream' }));
      return transfer;
    }, bytes.toString('base64'));
    const zone = c.page.locator('.drop');
    await zone.dispatchEvent('dragover', { dataTransfer: dropped });
    await zone.dispatchEvent('drop', { dataTransfer: dropped });
    await c.page.getByText('dropped.raw: 3.0 MiB').waitFor();
    // The name field offers the file's name, and an empty name takes it.
    expect(await c.page.getByLabel('Name', { exact: true }).getAttribute('placeholder')).toBe('dropped.raw');
    await c.page.getByRole('button', { name: 'Create and upload' }).click();
    await c.page.getByText('The image is active.').waitFor();
    const [image] = (await call(`/v2/images?owner=${project}`, { token: await tokenFor(project) })).body.images as Array<Record<string, unknown>>;
    expect(image).toMatchObject({
      name: 'dropped.raw',
      status: 'active',
      size: bytes.length,
      checksum: createHash('md5').update(bytes).digest('hex'),
      os_hash_value: createHash('sha512').update(bytes).digest('hex'),
    });
    expect(c.trouble.errors).toEqual([]);
  });

  it('shows why the verifier refused the data, and the image is queued again', async () => {
    const project = uniqueProject('console-refused');
    const path = join(scratch, 'not-a-qcow2.qcow2');
    writeFileSync(path, randomBytes(256 * 1024));
    const c = await openConsole(browser);
    await signIn(c.page, project);
    await c.page.getByRole('link', { name: 'Create image' }).click();
    await c.page.getByLabel('Disk format').selectOption('qcow2');
    await c.page.getByLabel('Image file (or drop one here)').setInputFiles(path);
    await c.page.getByRole('button', { name: 'Create and upload' }).click();
    const alert = c.page.getByRole('alert').filter({ hasText: 'The upload was refused:' });
    await alert.waitFor();
    // The image's name defaults to the file's; its failure is the API's own words.
    const listed = await call(`/v2/images?owner=${project}`, { token: await tokenFor(project) });
    const image = listed.body.images[0] as Record<string, string>;
    expect(image).toMatchObject({ name: 'not-a-qcow2.qcow2', status: 'queued' });
    expect(image.os_skyglass_failure).toBeTruthy();
    expect(await alert.textContent()).toContain(`The upload was refused: ${image.os_skyglass_failure}`);
    expectQuiet(c);
  });
});

describe('deleting an image', () => {
  it('asks first: Cancel keeps it, Delete removes it and returns to the list', async () => {
    const project = uniqueProject('console-delete');
    const token = await tokenFor(project);
    const image = await createImage(token, { name: 'to-delete' });
    await createImage(token, { name: 'to-keep' });
    const c = await openConsole(browser, undefined, `/console/images/${image.id}`);
    await signIn(c.page, project);
    await c.page.getByRole('heading', { name: 'to-delete', level: 1 }).waitFor();

    await c.page.getByRole('button', { name: 'Delete image' }).click();
    const dialog = c.page.getByRole('dialog', { name: /Delete the image to-delete\?/ });
    await dialog.waitFor();
    // The dialog takes the focus, on the safe choice.
    expect(await dialog.getByRole('button', { name: 'Cancel' }).evaluate((el) => el.matches(':focus'))).toBe(true);
    await screenshot(c.page, 'delete-confirm');
    await c.page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    expect((await call(`/v2/images/${image.id}`, { token })).status).toBe(200);

    await c.page.getByRole('button', { name: 'Delete image' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await c.page.getByRole('heading', { name: 'Images', level: 1 }).waitFor();
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual(['to-keep']);
    expect((await call(`/v2/images/${image.id}`, { token })).status).toBe(404);
    expectQuiet(c);
  });

  it("shows the API's refusal to delete a protected image, which stays", async () => {
    const project = uniqueProject('console-protected');
    const token = await tokenFor(project);
    const image = await createImage(token, { name: 'guarded', protected: true });
    const c = await openConsole(browser, undefined, `/console/images/${image.id}`);
    await signIn(c.page, project);
    await c.page.getByRole('button', { name: 'Delete image' }).click();
    const dialog = c.page.getByRole('dialog');
    expect(await dialog.textContent()).toContain('It is protected');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    const refusal = c.page.getByRole('alert').filter({ hasText: 'Refused:' });
    await refusal.waitFor();
    const shown = await call(`/v2/images/${image.id}`, { token });
    expect(shown.status).toBe(200);
    expect(await refusal.textContent()).toContain('protected');
    expect(c.trouble.dialogs).toEqual([]);
  });

  it('lets an admin restore, from the Pending delete tab, an image a member deleted: it is active again with its data', async () => {
    const project = uniqueProject('console-restore');
    const name = `to-restore-${project}`;
    const token = await tokenFor(project);
    const data = randomBytes(64 * 1024);
    const image = await createImage(token, { name, disk_format: 'raw', container_format: 'bare' });
    expect((await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: data, headers: { 'Content-Type': 'application/octet-stream' } })).status).toBe(204);
    // The delete's StartExecution of the scrubber fails (as when Step Functions is unavailable):
    // the image then waits in pending_delete until the sweeper re-drives its scrub, so the
    // restore below does not race the test runtime's 3-second restore window.
    injectFault({ command: 'StartExecution', key: image.id, times: 1, error: 'ServiceUnavailable' });

    const member = await openConsole(browser, undefined, `/console/images/${image.id}`);
    await signIn(member.page, project);
    await member.page.getByRole('heading', { name, level: 1 }).waitFor();
    await member.page.getByRole('button', { name: 'Delete image' }).click();
    await member.page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await listStatus(member.page, 'Page 1: 0 images.');
    expect((await call(`/v2/images/${image.id}`, { token })).status).toBe(404);
    // Only admins have the tab.
    expect(await member.page.getByRole('tab', { name: 'Pending delete' }).count()).toBe(0);

    const admin = await openConsole(browser);
    await signIn(admin.page, uniqueProject('console-operator'), ['admin']);
    await admin.page.getByRole('tab', { name: 'Pending delete' }).click();
    // Its filters have no status (the tab is one): name, format, sizes.
    expect(await admin.page.getByLabel('Status').count()).toBe(0);
    await admin.page.getByLabel('Name (exact)').fill(name);
    await admin.page.getByRole('button', { name: 'Apply filters' }).click();
    await listStatus(admin.page, 'Page 1: 1 image.');
    const table = admin.page.getByRole('table', { name: 'Images' });
    const row = table.getByRole('row', { name: new RegExp(name) });
    expect(await row.locator('td').allTextContents()).toEqual([name, 'pending_delete', 'shared', 'No', 'raw', '64.0 KiB', project, 'Restore']);
    // No link: the image answers 404 until it is restored.
    expect(await row.getByRole('link').count()).toBe(0);
    await screenshot(admin.page, 'pending-delete');

    await row.getByRole('button', { name: `Restore ${name}` }).click();
    await admin.page.getByRole('status').filter({ hasText: `Restored ${name}: it is active again.` }).waitFor();
    await listStatus(admin.page, 'Page 1: 0 images.');
    expect((await call(`/v2/images/${image.id}`, { token })).body).toMatchObject({ status: 'active', size: data.length, checksum: createHash('md5').update(data).digest('hex') });

    // The member sees it again, active.
    await member.page.reload();
    await listStatus(member.page, 'Page 1: 1 image.');
    expect(await shownNames(member.page)).toEqual([name]);
    expect(await member.page.getByRole('table', { name: 'Images' }).getByRole('row', { name: new RegExp(name) }).locator('td').nth(1).textContent()).toBe('active');
    expectQuiet(member);
    expectQuiet(admin);
  });

  it('shows why a restore was refused: an image the scrubber has already taken stays deleted', async () => {
    const project = uniqueProject('console-late-restore');
    const name = `too-late-${project}`;
    const token = await tokenFor(project);
    const image = await createImage(token, { name, disk_format: 'raw', container_format: 'bare' });
    expect((await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: randomBytes(4096), headers: { 'Content-Type': 'application/octet-stream' } })).status).toBe(204);
    injectFault({ command: 'StartExecution', key: image.id, times: 1, error: 'ServiceUnavailable' });
    expect((await call(`/v2/images/${image.id}`, { method: 'DELETE', token })).status).toBe(204);

    const admin = await openConsole(browser);
    await signIn(admin.page, uniqueProject('console-operator'), ['admin']);
    await admin.page.getByRole('tab', { name: 'Pending delete' }).click();
    await admin.page.getByLabel('Name (exact)').fill(name);
    await admin.page.getByRole('button', { name: 'Apply filters' }).click();
    await listStatus(admin.page, 'Page 1: 1 image.');
    // Another admin scrubs it now, after this page listed it.
    const operator = await tokenFor(uniqueProject('console-operator'), ['admin']);
    expect((await call(`/v2/images/${image.id}/actions/scrub`, { method: 'POST', token: operator })).status).toBe(202);
    await until('the scrub', async () => ((await call(`/v2/images?status=pending_delete&name=${name}`, { token: operator })).body.images.length === 0 ? true : undefined));

    await admin.page.getByRole('button', { name: `Restore ${name}` }).click();
    const refusal = admin.page.getByRole('alert').filter({ hasText: `${name} was not restored:` });
    await refusal.waitFor();
    await listStatus(admin.page, 'Page 1: 0 images.');
    expect((await call(`/v2/images/${image.id}`, { token })).status).toBe(404);
    expect(admin.trouble.dialogs).toEqual([]);
  });
});
