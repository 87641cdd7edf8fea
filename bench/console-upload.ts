import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Browser } from 'playwright-core';
import { ensureConsoleBuilt } from '../infra/local/console-build.js';
import type { LocalRuntime } from '../infra/local/server.js';
// @ts-expect-error: a plain .mjs build script (scripts/build-cli.mjs)
import { buildCli } from '../scripts/build-cli.mjs';
import { launchChromium, signIn } from '../test/console/browser.js';
import { runCli } from './cli.js';
import { writeRandomFile } from './random-file.js';
import { check, heading, printTable, progress } from './report.js';

/**
 * Section `console`: a 1 GiB image created in the browser console (headless Chromium, the form a
 * user fills in: the file sent in parts straight to the local S3, four in flight, then followed
 * to active), against the `skyglass` CLI's `image-create --file` of the same file to the same
 * runtime in the same run; and the browser's peak memory meanwhile (every Chromium process's
 * proportional set size, so pages shared between them count once, and the page's JS heap).
 */
const MiB = 1024 * 1024;
const SIZE = 1024 * MiB;
const ROUNDS = 2;
const RATIO_GOAL = 1.2;

export interface ConsoleUploadResult {
  consoleSeconds: number[];
  cliSeconds: number[];
  /** Each run's time to the complete accepted (every part stored and the complete answered): the transfer, before verification. */
  consoleCompletedSeconds: number[];
  cliCompletedSeconds: number[];
  browserPeakPssKiB: number;
  jsHeapPeakBytes: number;
}

/** The Chromium processes below this one, and the sum of their PSS (smaps_rollup), in KiB. */
function chromiumPssKiB(): number {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // `pid (comm) state ppid ...`: comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      names.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
      parents.set(Number(entry), Number(stat.slice(close + 2).split(' ')[1]));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  const below = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === process.pid) return true;
    return false;
  };
  let total = 0;
  for (const [pid, name] of names) {
    if (!/chrom/i.test(name) || !below(pid)) continue;
    try {
      total += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

/** One Create image of `file` in a fresh context, from the click to active; the browser's memory sampled into `peaks` meanwhile. */
async function consoleUpload(browser: Browser, url: string, file: string, peaks: Pick<ConsoleUploadResult, 'browserPeakPssKiB' | 'jsHeapPeakBytes'>): Promise<Phases> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.goto(`${url}/console/`);
    await signIn(page, 'bench-console');
    await page.getByRole('link', { name: 'Create image' }).click();
    await page.getByLabel('Name', { exact: true }).fill('bench-console');
    await page.getByLabel('Disk format').selectOption('raw');
    await page.getByLabel('Image file (or drop one here)').setInputFiles(file);
    const started = performance.now();
    await page.getByRole('button', { name: 'Create and upload' }).click();
    // The status the page announces once the complete is accepted (console/src/create-image.tsx).
    const completed = page.getByText('All parts sent; the image is being verified.').waitFor({ timeout: 600_000 }).then(() => (performance.now() - started) / 1000);
    const active = page.getByText('The image is active.').waitFor({ timeout: 600_000 });
    let settled = false;
    void active.finally(() => (settled = true)).catch(() => undefined);
    while (!settled) {
      peaks.browserPeakPssKiB = Math.max(peaks.browserPeakPssKiB, chromiumPssKiB());
      // Chromium's non-standard performance.memory: the page's used JS heap.
      const heap = await page.evaluate(() => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0).catch(() => 0);
      peaks.jsHeapPeakBytes = Math.max(peaks.jsHeapPeakBytes, heap);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await active;
    return { seconds: (performance.now() - started) / 1000, completedSeconds: await completed };
  } finally {
    await context.close();
  }
}

interface Phases {
  seconds: number;
  completedSeconds: number;
}

export async function measureConsoleUpload(): Promise<ConsoleUploadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'skyglass-bench-console-'));
  let runtime: LocalRuntime | undefined;
  let browser: Browser | undefined;
  try {
    await ensureConsoleBuilt();
    const bundle = await (buildCli as (o: { outfile: string }) => Promise<string>)({ outfile: join(dir, 'skyglass.mjs') });
    const file = join(dir, 'one.bin');
    progress(`writing a ${SIZE / MiB} MiB random file under ${dir}`);
    writeRandomFile(file, SIZE);
    const { startLocalRuntime } = await import('../infra/local/server.js');
    const { mintToken } = await import('../infra/local/dev-key.js');
    runtime = await startLocalRuntime({ port: 0, dataDir: join(dir, 'runtime'), inMemory: true });
    const rt = runtime;
    const env = { ...process.env, OS_IMAGE_URL: rt.url, OS_AUTH_TOKEN: await mintToken(join(dir, 'runtime'), { project: 'bench-console', roles: ['member'] }), SKYGLASS_STATE_DIR: join(dir, 'state') };
    browser = await launchChromium();
    const result: ConsoleUploadResult = { consoleSeconds: [], cliSeconds: [], consoleCompletedSeconds: [], cliCompletedSeconds: [], browserPeakPssKiB: 0, jsHeapPeakBytes: 0 };
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round}/${ROUNDS}: the console's Create image with ${SIZE / MiB} MiB to active, then skyglass image-create --file`);
      const viaConsole = await consoleUpload(browser, rt.url, file, result);
      result.consoleSeconds.push(viaConsole.seconds);
      result.consoleCompletedSeconds.push(viaConsole.completedSeconds);
      await rt.workflowsIdle();
      const viaCli = await runCli(bundle, env, ['image-create', '--name', 'bench-cli', '--disk-format', 'raw', '--container-format', 'bare', '--file', file]);
      result.cliSeconds.push(viaCli.seconds);
      result.cliCompletedSeconds.push(viaCli.completedSeconds);
      await rt.workflowsIdle();
    }
    return result;
  } finally {
    await browser?.close();
    await runtime?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function reportConsoleUpload(r: ConsoleUploadResult): void {
  heading("Console: Create image in the browser, 1 GiB to active, against the skyglass CLI (same file, same runtime)");
  const best = (xs: number[]) => Math.min(...xs);
  const runs = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  const ratio = best(r.consoleSeconds) / best(r.cliSeconds);
  printTable(
    ['path (1 GiB, to active)', '>MiB/s', '>time vs CLI', '>runs (s)', 'result'],
    [
      ['skyglass image-create --file (reference)', (SIZE / MiB / best(r.cliSeconds)).toFixed(0), '1.00x', runs(r.cliSeconds), 'reference'],
      ['console Create image (click to "The image is active.")', (SIZE / MiB / best(r.consoleSeconds)).toFixed(0), `${ratio.toFixed(2)}x`, runs(r.consoleSeconds), `${check('console', 'upload time', ratio <= RATIO_GOAL)} (goal <= ${RATIO_GOAL}x)`],
    ],
  );
  console.log('');
  // The transfer (parts and the complete) against the verification after it, which both paths wait for alike.
  printTable(
    ['phases per run (s)', '>to complete accepted', '>complete to active'],
    [
      ...r.cliSeconds.map((total, i) => [`CLI run ${i + 1}`, r.cliCompletedSeconds[i]!.toFixed(1), (total - r.cliCompletedSeconds[i]!).toFixed(1)]),
      ...r.consoleSeconds.map((total, i) => [`console run ${i + 1}`, r.consoleCompletedSeconds[i]!.toFixed(1), (total - r.consoleCompletedSeconds[i]!).toFixed(1)]),
    ],
  );
  console.log('');
  printTable(
    ['browser memory during the uploads', '>MB'],
    [
      ['every Chromium process, peak PSS', (r.browserPeakPssKiB / 1024).toFixed(0)],
      ["the console page's JS heap, peak", (r.jsHeapPeakBytes / MiB).toFixed(0)],
    ],
  );
}
