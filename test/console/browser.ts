import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { apiUrl } from '../api/client.js';

/** Debian's Chromium (`npm run setup` installs the package); playwright-core drives it, it downloads no browser. */
export const CHROMIUM = process.env.SKYGLASS_CHROMIUM ?? '/usr/bin/chromium';
/** The main screens, as the tests leave them, for people to look at (dist/ is not committed). */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'dist', 'console-screenshots');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: npm run setup installs Debian's chromium package (or set SKYGLASS_CHROMIUM).`);
  }
  // Chromium's sandbox refuses to run as root (CI and these machines run as root).
  const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
  return chromium.launch({ executablePath: CHROMIUM, args, headless: true });
}

/** What went wrong in a page that a user would not see as an answer: script errors, CSP refusals, dialogs. */
export interface PageTrouble {
  errors: string[];
  dialogs: string[];
}

export interface ConsolePage {
  context: BrowserContext;
  page: Page;
  trouble: PageTrouble;
}

/** A fresh browser context (its own sessionStorage) on /console/, at a laptop's size unless told. */
export async function openConsole(browser: Browser, viewport = { width: 1280, height: 800 }, path = '/console/'): Promise<ConsolePage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const trouble: PageTrouble = { errors: [], dialogs: [] };
  page.on('pageerror', (error) => trouble.errors.push(error.message));
  // Chromium reports CSP refusals (and failed loads) as console errors.
  page.on('console', (message) => {
    if (message.type() === 'error') trouble.errors.push(message.text());
  });
  page.on('dialog', (dialog) => {
    trouble.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(`${apiUrl()}${path}`);
  return { context, page, trouble };
}

/** Signs in through the local picker and waits for the page the address names. */
export async function signIn(page: Page, project: string, roles: string[] = ['member']): Promise<void> {
  await page.getByLabel('Project', { exact: true }).fill(project);
  for (const role of ['reader', 'member', 'admin']) await page.getByLabel(role, { exact: true }).setChecked(roles.includes(role));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** The list's status line once a page has loaded ("Page 1: 3 images."). */
export async function listStatus(page: Page, expected: string | RegExp): Promise<string> {
  const status = page.getByRole('status').filter({ hasText: expected });
  await status.waitFor();
  return (await status.textContent()) ?? '';
}

/** The names in the images table, top to bottom. */
export async function shownNames(page: Page): Promise<string[]> {
  return page.getByRole('table', { name: 'Images' }).locator('tbody tr td:first-child a').allTextContents();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
