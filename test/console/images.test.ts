import { createHash, randomBytes } from 'node:crypto';
import type { Browser, Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, createImage, patch, tokenFor, uniqueProject } from '../api/client.js';
import { launchChromium, listStatus, openConsole, screenshot, shownNames, signIn, type ConsolePage } from './browser.js';

/** The browser console's images panel in headless Chromium, against the runtime the api project starts. */

let browser: Browser;
const opened: ConsolePage[] = [];
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function open(viewport?: { width: number; height: number }, path?: string): Promise<ConsolePage> {
  const console = await openConsole(browser, viewport, path);
  opened.push(console);
  return console;
}

/** Nothing the user did not ask for happened in the page: no script error, no CSP refusal, no dialog. */
function expectQuiet({ trouble }: ConsolePage) {
  expect(trouble.errors).toEqual([]);
  expect(trouble.dialogs).toEqual([]);
}

describe('signing in locally', () => {
  it("signs in with the picked project and roles, keeps the token out of cookies and the address bar, and shows the project's images", async () => {
    const project = uniqueProject('console-in');
    const token = await tokenFor(project);
    await createImage(token, { name: 'mine', disk_format: 'qcow2', container_format: 'bare' });
    const other = await tokenFor(uniqueProject('console-other'));
    await createImage(other, { name: 'not-mine', disk_format: 'raw', container_format: 'bare' });

    const c = await open();
    await c.page.getByRole('heading', { name: 'Sign in to the local Skyglass' }).waitFor();
    await screenshot(c.page, 'sign-in');
    await signIn(c.page, project, ['member']);
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual(['mine']);
    const row = c.page.getByRole('table', { name: 'Images' }).getByRole('row', { name: /mine/ });
    expect(await row.getByRole('cell').allTextContents()).toEqual(['mine', 'queued', 'shared', 'No', 'qcow2', '—']);
    expect(await c.page.getByText(`Project ${project}`).isVisible()).toBe(true);
    expect(await c.context.cookies()).toEqual([]);
    expect(c.page.url()).not.toContain('ey');

    // A reload keeps the tab signed in; signing out forgets the token.
    await c.page.reload();
    await listStatus(c.page, 'Page 1: 1 image.');
    await c.page.getByRole('button', { name: 'Sign out' }).click();
    await c.page.getByRole('heading', { name: 'Sign in to the local Skyglass' }).waitFor();
    expect(await c.page.evaluate('sessionStorage.length')).toBe(0);
    expectQuiet(c);
  });
});

describe('the images table', () => {
  const project = uniqueProject('console-list');
  let token: string;
  beforeAll(async () => {
    token = await tokenFor(project);
    // 12 images: 8 qcow2 (a-h), 4 raw (i-l); one of the raw ones private.
    for (const [i, letter] of [...'abcdefghijkl'].entries()) {
      await createImage(token, { name: `img-${letter}`, disk_format: i < 8 ? 'qcow2' : 'raw', container_format: 'bare', ...(letter === 'k' ? { visibility: 'private' } : {}) });
    }
  });

  it('sorts by a column header, both ways, with the sort told to screen readers', async () => {
    const c = await open();
    await signIn(c.page, project);
    await c.page.getByLabel('Per page').selectOption('50');
    await listStatus(c.page, 'Page 1: 12 images.');
    const nameHeader = c.page.getByRole('columnheader', { name: 'Name' });
    await nameHeader.getByRole('button').click();
    await c.page.locator('th[aria-sort="ascending"]', { hasText: 'Name' }).waitFor();
    await listStatus(c.page, 'Page 1: 12 images.');
    const ascending = [...'abcdefghijkl'].map((l) => `img-${l}`);
    expect(await shownNames(c.page)).toEqual(ascending);
    await nameHeader.getByRole('button').click();
    await c.page.locator('th[aria-sort="descending"]', { hasText: 'Name' }).waitFor();
    await listStatus(c.page, 'Page 1: 12 images.');
    expect(await shownNames(c.page)).toEqual([...ascending].reverse());
    expectQuiet(c);
  });

  it("pages with the API's next links, forward and back", async () => {
    const c = await open();
    await signIn(c.page, project);
    await c.page.getByRole('columnheader', { name: 'Name' }).getByRole('button').click();
    await c.page.getByLabel('Per page').selectOption('10');
    await listStatus(c.page, 'Page 1: 10 images, more on the next page.');
    expect(await shownNames(c.page)).toEqual([...'abcdefghij'].map((l) => `img-${l}`));
    await c.page.getByRole('button', { name: 'Next page' }).click();
    await listStatus(c.page, 'Page 2: 2 images.');
    expect(await shownNames(c.page)).toEqual(['img-k', 'img-l']);
    expect(await c.page.getByRole('button', { name: 'Next page' }).getAttribute('aria-disabled')).toBe('true');
    await screenshot(c.page, 'images-page-2');
    await c.page.getByRole('button', { name: 'Previous page' }).click();
    await listStatus(c.page, 'Page 1: 10 images, more on the next page.');
    expect((await shownNames(c.page))[0]).toBe('img-a');
    expectQuiet(c);
  });

  it('filters by name, status, visibility and disk format', async () => {
    const c = await open();
    await signIn(c.page, project);
    await c.page.getByLabel('Per page').selectOption('50');
    await listStatus(c.page, 'Page 1: 12 images.');
    const apply = () => c.page.getByRole('button', { name: 'Apply filters' }).click();

    await c.page.getByLabel('Disk format').selectOption('raw');
    await apply();
    await listStatus(c.page, 'Page 1: 4 images.');
    expect((await shownNames(c.page)).sort()).toEqual(['img-i', 'img-j', 'img-k', 'img-l']);

    await c.page.getByLabel('Visibility').selectOption('private');
    await apply();
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual(['img-k']);

    await c.page.getByRole('button', { name: 'Clear' }).click();
    await c.page.getByLabel('Name (exact)').fill('img-c');
    await c.page.getByLabel('Name (exact)').press('Enter');
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual(['img-c']);

    await c.page.getByLabel('Status').selectOption('active');
    await apply();
    await listStatus(c.page, 'Page 1: 0 images.');
    expect(await c.page.getByText('No images.').isVisible()).toBe(true);
    expectQuiet(c);
  });
});

describe('tabs', () => {
  it("shows the project's images, what others share with it, public and community images, each on its tab", async () => {
    const project = uniqueProject('console-tabs');
    const owner = uniqueProject('console-sharer');
    const token = await tokenFor(project);
    const ownerToken = await tokenFor(owner);
    const admin = await tokenFor(uniqueProject('console-admin'), ['admin']);
    const suffix = project.slice(-8);
    await createImage(token, { name: `own-${suffix}` });
    const shared = await createImage(ownerToken, { name: `shared-${suffix}`, visibility: 'shared' });
    expect((await call(`/v2/images/${shared.id}/members`, { method: 'POST', token: ownerToken, json: { member: project } })).status).toBe(200);
    await createImage(admin, { name: `public-${suffix}`, visibility: 'public' });
    await createImage(ownerToken, { name: `community-${suffix}`, visibility: 'community' });

    const c = await open();
    await signIn(c.page, project);
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual([`own-${suffix}`]);

    const tab = (name: string) => c.page.getByRole('tab', { name });
    await tab('Shared with me').click();
    await listStatus(c.page, /^Page 1/);
    expect(await shownNames(c.page)).toEqual([`shared-${suffix}`]);
    // Filters narrow each tab: other tests' public and community images are there too.
    await c.page.getByLabel('Name (exact)').fill(`public-${suffix}`);
    await tab('Public').click();
    await c.page.getByRole('button', { name: 'Apply filters' }).click();
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual([`public-${suffix}`]);
    await c.page.getByLabel('Name (exact)').fill(`community-${suffix}`);
    await tab('Community').click();
    await c.page.getByRole('button', { name: 'Apply filters' }).click();
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual([`community-${suffix}`]);
    expect(await tab('Community').getAttribute('aria-selected')).toBe('true');

    // The tabs follow the arrow keys (WAI-ARIA tabs), and only the selected one is in the Tab order.
    await tab('Community').focus();
    await c.page.keyboard.press('Home');
    expect(await tab('Project').getAttribute('aria-selected')).toBe('true');
    expect(await tab('Project').evaluate((el) => el.matches(':focus'))).toBe(true);
    await c.page.keyboard.press('ArrowRight');
    expect(await tab('Shared with me').getAttribute('aria-selected')).toBe('true');
    expect(await tab('Project').getAttribute('tabindex')).toBe('-1');
    expectQuiet(c);
  });
});

describe('the detail page', () => {
  it('shows checksum, SHA-512, sizes, owner, timestamps, tags and every property of an active image', async () => {
    const project = uniqueProject('console-detail');
    const token = await tokenFor(project);
    const data = randomBytes(1024 * 1024);
    const image = await createImage(token, { name: 'with-data', disk_format: 'raw', container_format: 'bare', os_distro: 'cirros', hw_disk_bus: 'virtio' });
    expect((await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: data, headers: { 'Content-Type': 'application/octet-stream' } })).status).toBe(204);
    for (const tag of ['linux', 'test']) expect((await call(`/v2/images/${image.id}/tags/${tag}`, { method: 'PUT', token })).status).toBe(204);
    const shown = (await call(`/v2/images/${image.id}`, { token })).body as Record<string, string>;
    expect(shown.status).toBe('active');

    const c = await open();
    await signIn(c.page, project);
    await c.page.getByRole('link', { name: 'with-data' }).click();
    await c.page.getByRole('heading', { name: 'with-data', level: 1 }).waitFor();
    expect(c.page.url()).toMatch(new RegExp(`/console/images/${image.id}$`));
    // The focus moved to the new view's content, as a page load would put a screen reader there.
    expect(await c.page.locator('main').evaluate((el) => el.matches(':focus'))).toBe(true);
    const value = async (label: string) => (await c.page.locator('dl.overview div', { has: c.page.locator('dt', { hasText: new RegExp(`^${label.replace(/[()]/g, '\\$&')}$`) }) }).locator('dd').textContent()) ?? '';
    expect(await value('Checksum (MD5)')).toBe(createHash('md5').update(data).digest('hex'));
    expect(await value('Hash value (SHA-512)')).toBe(createHash('sha512').update(data).digest('hex'));
    expect(await value('Hash algorithm')).toBe('sha512');
    expect(await value('Size')).toBe('1.0 MiB (1048576 bytes)');
    expect(await value('Virtual size')).toBe('1.0 MiB (1048576 bytes)');
    expect(await value('Owner')).toBe(project);
    expect(await value('Status')).toBe('active');
    expect(await value('Created')).toBe(shown.created_at);
    expect(await value('Updated')).toBe(shown.updated_at);
    expect(await c.page.getByRole('list', { name: 'Tags' }).locator('li > span').allTextContents()).toEqual(['linux', 'test']);
    const properties = c.page.getByRole('table', { name: 'Properties' });
    expect(await properties.getByRole('row', { name: /hw_disk_bus/ }).getByRole('cell').first().textContent()).toBe('virtio');
    expect(await properties.getByRole('row', { name: /os_distro/ }).getByRole('cell').first().textContent()).toBe('cirros');
    await screenshot(c.page, 'image-detail');

    // Tags and properties are edited in place: each change is the API's, shown as it answers.
    await c.page.getByLabel('New tag').fill('prod');
    await c.page.getByRole('button', { name: 'Add tag' }).click();
    await c.page.getByRole('list', { name: 'Tags' }).locator('li > span', { hasText: 'prod' }).waitFor();
    await c.page.getByRole('button', { name: 'Remove tag linux' }).click();
    await c.page.getByRole('button', { name: 'Remove tag linux' }).waitFor({ state: 'detached' });
    await c.page.getByLabel('Property', { exact: true }).fill('hw_disk_bus');
    await c.page.getByLabel('Value', { exact: true }).fill('scsi');
    await c.page.getByRole('button', { name: 'Set property' }).click();
    await properties.getByRole('row', { name: /hw_disk_bus/ }).getByRole('cell', { name: 'scsi' }).waitFor();
    await c.page.getByLabel('Property', { exact: true }).fill('os/version~2');
    await c.page.getByLabel('Value', { exact: true }).fill('24.04');
    await c.page.getByRole('button', { name: 'Set property' }).click();
    await properties.getByRole('row', { name: /os\/version~2/ }).waitFor();
    await c.page.getByRole('button', { name: 'Remove property os_distro' }).click();
    await c.page.getByRole('button', { name: 'Remove property os_distro' }).waitFor({ state: 'detached' });
    const edited = (await call(`/v2/images/${image.id}`, { token })).body as Record<string, unknown>;
    expect(edited).toMatchObject({ hw_disk_bus: 'scsi', 'os/version~2': '24.04' });
    expect([...(edited.tags as string[])].sort()).toEqual(['prod', 'test']);
    expect(edited).not.toHaveProperty('os_distro');

    // The address opens the same page directly (the runtime answers index.html for it), and Back returns to the list.
    const direct = await open(undefined, `/console/images/${image.id}`);
    await signIn(direct.page, project);
    await direct.page.getByRole('heading', { name: 'with-data', level: 1 }).waitFor();
    await c.page.goBack();
    await listStatus(c.page, 'Page 1: 1 image.');
    expectQuiet(c);
    expectQuiet(direct);
  });
});

describe('user input shows as text', () => {
  it('shows names, properties and tags holding HTML and script as their text, and runs none of it', async () => {
    const project = uniqueProject('console-xss');
    const token = await tokenFor(project);
    const name = '<img src=x onerror=alert(1)>';
    const image = await createImage(token, { name, hw_note: '<script>alert(2)</script>', '<b>key</b>': '"><svg onload=alert(3)>' });
    expect((await call(`/v2/images/${image.id}/tags/${encodeURIComponent('<i>tag</i>')}`, { method: 'PUT', token })).status).toBe(204);
    expect((await patch(token, image.id, [{ op: 'add', path: '/os_distro', value: 'javascript:alert(4)' }])).status).toBe(200);

    const c = await open();
    await signIn(c.page, project);
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual([name]);
    const table = c.page.getByRole('table', { name: 'Images' });
    expect(await table.locator('img, script, svg').count()).toBe(0);
    await c.page.getByRole('link', { name }).click();
    await c.page.getByRole('heading', { name, level: 1 }).waitFor();
    const properties = c.page.getByRole('table', { name: 'Properties' });
    expect(await properties.getByRole('row', { name: /hw_note/ }).getByRole('cell').first().textContent()).toBe('<script>alert(2)</script>');
    expect(await properties.getByRole('row', { name: /<b>key<\/b>/ }).getByRole('cell').first().textContent()).toBe('"><svg onload=alert(3)>');
    expect(await c.page.getByRole('list', { name: 'Tags' }).locator('li > span').allTextContents()).toEqual(['<i>tag</i>']);
    expect(await c.page.locator('main img, main script, main svg, main b, main i, main a[href^="javascript"]').count()).toBe(0);
    expectQuiet(c);
  });
});

describe('keyboard and screen readers', () => {
  it('names every control by a label, reaches them with Tab, and pages with the keyboard alone', async () => {
    const project = uniqueProject('console-keys');
    const token = await tokenFor(project);
    // 11 images: one more than the smallest page.
    for (let n = 10; n <= 20; n++) await createImage(token, { name: `key-${n}` });

    const c = await open();
    await signIn(c.page, project);
    await c.page.getByLabel('Per page').selectOption('10');
    await listStatus(c.page, 'Page 1: 10 images, more on the next page.');
    const unnamed = await c.page.locator('input, select, button, a[href]').evaluateAll((controls) =>
      controls
        .filter((el) => {
          const labels = (el as unknown as { labels?: ArrayLike<unknown> | null }).labels;
          return !(labels && labels.length > 0) && !el.getAttribute('aria-label') && !(el.textContent ?? '').trim();
        })
        .map((el) => el.outerHTML),
    );
    expect(unnamed).toEqual([]);

    // From the top of the page: Tab to the Name header and sort with Enter, then Tab on to Next page.
    await c.page.locator('body').focus();
    const tabTo = async (what: string, locator: Locator) => {
      for (let presses = 0; presses < 80; presses++) {
        if (await locator.evaluate((el) => el.matches(':focus'))) return;
        await c.page.keyboard.press('Tab');
      }
      throw new Error(`Tab never reached ${what}`);
    };
    await tabTo('the Name header', c.page.getByRole('columnheader', { name: 'Name' }).getByRole('button'));
    await c.page.keyboard.press('Enter');
    await c.page.locator('th[aria-sort="ascending"]', { hasText: 'Name' }).waitFor();
    await listStatus(c.page, 'Page 1: 10 images, more on the next page.');
    expect((await shownNames(c.page))[0]).toBe('key-10');
    const next = c.page.getByRole('button', { name: 'Next page' });
    await tabTo('Next page', next);
    // Focus is visible: the focused control draws an outline.
    expect(await next.evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).outlineStyle)).not.toBe('none');
    await c.page.keyboard.press('Enter');
    await listStatus(c.page, 'Page 2: 1 image.');
    expect(await shownNames(c.page)).toEqual(['key-20']);
    // Next page is unusable on the last page, and keeps the focus; Previous page is one Shift+Tab back.
    expect(await next.evaluate((el) => el.matches(':focus'))).toBe(true);
    expect(await next.getAttribute('aria-disabled')).toBe('true');
    await c.page.keyboard.press('Shift+Tab');
    expect(await c.page.getByRole('button', { name: 'Previous page' }).evaluate((el) => el.matches(':focus'))).toBe(true);
    await c.page.keyboard.press('Enter');
    await listStatus(c.page, 'Page 1: 10 images, more on the next page.');
    expectQuiet(c);
  });

  it('lays the table out as cards in a narrow window, every value still labelled', async () => {
    const project = uniqueProject('console-narrow');
    const token = await tokenFor(project);
    await createImage(token, { name: 'narrow-one', disk_format: 'iso', container_format: 'bare' });
    const c = await open({ width: 390, height: 800 });
    await signIn(c.page, project);
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await c.page.getByRole('link', { name: 'narrow-one' }).isVisible()).toBe(true);
    const cardLabel = await c.page.locator('tbody td[data-label="Disk format"]').evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el, '::before').content);
    expect(cardLabel).toBe('"Disk format: "');
    // Nothing wider than the window: no sideways scrolling.
    expect(await c.page.locator('html').evaluate((el) => el.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(c.page, 'images-narrow');
    expectQuiet(c);
  });
});

describe('sizes, admins and image actions', () => {
  const project = uniqueProject('console-sizes');
  let token: string;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    token = await tokenFor(project);
    for (const [name, mib] of [['one-mib', 1], ['three-mib', 3]] as const) {
      const image = await createImage(token, { name, disk_format: 'raw', container_format: 'bare' });
      const put = await call(`/v2/images/${image.id}/file`, { method: 'PUT', token, body: randomBytes(mib * 1024 * 1024), headers: { 'Content-Type': 'application/octet-stream' } });
      expect(put.status).toBe(204);
      ids[name] = image.id;
    }
    await createImage(token, { name: 'no-data' });
  });

  it('filters by a size range in MiB (images without data have no size to match)', async () => {
    const c = await open();
    await signIn(c.page, project);
    await listStatus(c.page, 'Page 1: 3 images.');
    await c.page.getByLabel('Size from (MiB)').fill('2');
    await c.page.getByRole('button', { name: 'Apply filters' }).click();
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual(['three-mib']);
    await c.page.getByLabel('Size from (MiB)').fill('');
    await c.page.getByLabel('Size to (MiB)').fill('1');
    await c.page.getByRole('button', { name: 'Apply filters' }).click();
    await listStatus(c.page, 'Page 1: 1 image.');
    expect(await shownNames(c.page)).toEqual(['one-mib']);
    expect(await c.page.getByRole('row', { name: /one-mib/ }).getByRole('cell').nth(5).textContent()).toBe('1.0 MiB');
    expectQuiet(c);
  });

  it("offers admins an All projects tab with other projects' images, and nobody else", async () => {
    const member = await open();
    await signIn(member.page, project);
    await listStatus(member.page, /^Page 1/);
    expect(await member.page.getByRole('tab').allTextContents()).toEqual(['Project', 'Shared with me', 'Public', 'Community']);

    const admin = await open();
    await signIn(admin.page, uniqueProject('console-root'), ['admin']);
    await admin.page.getByRole('tab', { name: 'All projects' }).click();
    await admin.page.getByLabel('Name (exact)').fill('three-mib');
    await admin.page.getByRole('button', { name: 'Apply filters' }).click();
    await listStatus(admin.page, /^Page 1: [1-9]/);
    const rows = admin.page.getByRole('table', { name: 'Images' }).getByRole('link', { name: 'three-mib' });
    expect(await rows.count()).toBeGreaterThanOrEqual(1);
    expectQuiet(member);
    expectQuiet(admin);
  });

  it('edits the name, visibility, minimums and protection, patching only what changed', async () => {
    const image = await createImage(token, { name: 'before-edit', min_ram: 512 });
    const c = await open(undefined, `/console/images/${image.id}`);
    await signIn(c.page, project);
    const patches: string[] = [];
    c.page.on('request', (request) => {
      if (request.method() === 'PATCH') patches.push(request.postData() ?? '');
    });
    await c.page.getByRole('button', { name: 'Edit image' }).click();
    const form = c.page.getByRole('form', { name: 'Edit image' });
    expect(await form.getByLabel('Minimum RAM (MB)').inputValue()).toBe('512');
    await form.getByLabel('Name').fill('after-edit');
    await form.getByLabel('Visibility').selectOption('private');
    await form.getByLabel('Minimum disk (GB)').fill('5');
    await form.getByLabel('Protected').check();
    await form.getByRole('button', { name: 'Save' }).click();
    await c.page.getByRole('heading', { name: 'after-edit', level: 1 }).waitFor();
    await form.waitFor({ state: 'detached' });
    const shown = (await call(`/v2/images/${image.id}`, { token })).body;
    expect(shown).toMatchObject({ name: 'after-edit', visibility: 'private', min_disk: 5, min_ram: 512, protected: true });
    expect(patches.map((body) => JSON.parse(body))).toEqual([
      [
        { op: 'replace', path: '/name', value: 'after-edit' },
        { op: 'replace', path: '/visibility', value: 'private' },
        { op: 'replace', path: '/protected', value: true },
        { op: 'replace', path: '/min_disk', value: 5 },
      ],
    ]);
    expectQuiet(c);
  });

  it('deactivates and reactivates an image from its page', async () => {
    const c = await open(undefined, `/console/images/${ids['one-mib']}`);
    await signIn(c.page, project);
    const status = c.page.locator('dl.overview div', { has: c.page.locator('dt', { hasText: /^Status$/ }) }).locator('dd');
    await status.filter({ hasText: 'active' }).waitFor();
    await c.page.getByRole('button', { name: 'Deactivate' }).click();
    await status.filter({ hasText: 'deactivated' }).waitFor();
    expect((await call(`/v2/images/${ids['one-mib']}`, { token })).body.status).toBe('deactivated');
    await c.page.getByRole('button', { name: 'Reactivate' }).click();
    await status.filter({ hasText: /^active$/ }).waitFor();
    expect((await call(`/v2/images/${ids['one-mib']}`, { token })).body.status).toBe('active');
    expectQuiet(c);
  });
});

describe('sharing', () => {
  it('shares an image with another project, which finds it under Shared with me and accepts it', async () => {
    const owner = uniqueProject('console-owner');
    const member = uniqueProject('console-member');
    const ownerToken = await tokenFor(owner);
    const image = await createImage(ownerToken, { name: `to-share-${owner.slice(-8)}`, visibility: 'shared' });

    const o = await open(undefined, `/console/images/${image.id}`);
    await signIn(o.page, owner);
    await o.page.getByText('Not shared with any project.').waitFor();
    await o.page.getByLabel('Share with project').fill(member);
    await o.page.getByRole('button', { name: 'Share', exact: true }).click();
    const row = o.page.getByRole('table', { name: 'Members' }).getByRole('row', { name: new RegExp(member) });
    await row.getByRole('cell', { name: 'pending' }).waitFor();

    const m = await open();
    await signIn(m.page, member);
    await m.page.getByRole('tab', { name: 'Shared with me' }).click();
    await listStatus(m.page, 'Page 1: 1 image.');
    await m.page.getByRole('link', { name: image.name }).click();
    await m.page.getByText('Shared with your project: pending.').waitFor();
    await m.page.getByRole('button', { name: 'Accept' }).click();
    await m.page.getByText('Shared with your project: accepted.').waitFor();
    const membership = await call(`/v2/images/${image.id}/members/${member}`, { token: await tokenFor(member) });
    expect(membership.body.status).toBe('accepted');
    await screenshot(m.page, 'shared-accepted');

    // The owner sees the answer, and can stop sharing.
    await o.page.reload();
    await row.getByRole('cell', { name: 'accepted' }).waitFor();
    await o.page.getByRole('button', { name: `Stop sharing with ${member}` }).click();
    await o.page.getByText('Not shared with any project.').waitFor();
    expect((await call(`/v2/images/${image.id}/members`, { token: ownerToken })).body.members).toEqual([]);
    expectQuiet(o);
    expectQuiet(m);
  });
});
