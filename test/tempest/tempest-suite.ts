import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkFormatMatches, inspectBytes } from '../../shared/domain/format-inspector.js';

const HERE = import.meta.dirname;
export const TEMPLATE = join(HERE, 'tempest.conf.template');
export const EXCLUDE_LIST = join(HERE, 'exclude-list.txt');
const SUBUNIT_RESULTS = join(HERE, 'subunit-results.py');

/** The suite this project runs: Tempest's image API v2 tests. */
export const SUITE_REGEX = '^tempest\\.api\\.image\\.v2\\.';

/** Tempest 33's default `[image] disk_formats`. */
const TEMPEST_DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'vhdx'];

/**
 * The disk formats Tempest may declare for its uploads: Tempest uploads random bytes (1-4 KiB)
 * as any of `[image] disk_formats`, and Skyglass refuses data that is not the format it claims
 * to be (qcow2, vhd, vhdx, vmdk, vdi, iso), so only the formats whose random bytes its format
 * check accepts are listed. Asked of the check itself, so the list follows it.
 */
export function acceptedRandomDiskFormats(): string[] {
  const random = randomBytes(4096);
  return TEMPEST_DISK_FORMATS.filter((format) => checkFormatMatches(format, inspectBytes(random)) === null);
}

/** tempest.conf from the project's template, every `${NAME}` filled in; throws on a name left unfilled. */
export function renderConfig(values: Record<string, string>): string {
  return readFileSync(TEMPLATE, 'utf8').replace(/\$\{([A-Z_]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`tempest.conf.template needs \${${name}}`);
    return value;
  });
}

/** One line of the exclude list: a regular expression of test ids, and why it is excluded. */
export interface Exclusion {
  pattern: RegExp;
  reason: string;
}

/** The exclude list as stestr reads it: `regex  # reason` per line, `#` lines are comments. */
export function exclusions(): Exclusion[] {
  return readFileSync(EXCLUDE_LIST, 'utf8')
    .split('\n')
    .map((line) => {
      const hash = line.indexOf('#');
      return { regex: (hash < 0 ? line : line.slice(0, hash)).trim(), reason: hash < 0 ? '' : line.slice(hash + 1).trim() };
    })
    .filter(({ regex }) => regex !== '')
    .map(({ regex, reason }) => ({ pattern: new RegExp(regex), reason }));
}

/** One test's outcome, as subunit records it. `id` is Tempest's, with its `[id-…,tags]` suffix. */
export interface TempestResult {
  id: string;
  status: 'success' | 'fail' | 'skip' | 'xfail' | 'uxsuccess';
  reason: string | null;
  traceback: string | null;
}

/** A test id without Tempest's `[id-…]` suffix, or the class of a `setUpClass (…)` entry. */
export function shortName(id: string): string {
  const setUp = /^setUpClass \((.*)\)$/.exec(id);
  return (setUp ? setUp[1]! : id.replace(/\[.*\]$/, '')).replace(/^tempest\.api\.image\.v2\./, '');
}

/**
 * Runs `tempest run` on the image suite (or the tests `select` names) with tempest.conf rendered from `values`, in `dir` (its .stestr repository, logs
 * and lock files go there, and HOME too, so nothing lands in the user's), with subunit output
 * kept in `dir/results.subunit`; the parsed results.
 */
export async function runTempest(dir: string, values: Record<string, string>, concurrency: number, select: { regex?: string; excludeRegex?: string } = {}): Promise<TempestResult[]> {
  // Tempest's logging opens its log file while discovering tests: a missing log directory fails
  // every module's import, and the run has no tests.
  const logDir = join(dir, 'logs');
  const lockDir = join(dir, 'lock');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(lockDir, { recursive: true });
  const configFile = join(dir, 'tempest.conf');
  writeFileSync(configFile, renderConfig({ ...values, LOG_DIR: logDir, LOCK_DIR: lockDir }));
  const subunit = join(dir, 'results.subunit');
  const args = ['run', '--config-file', configFile, '--regex', select.regex ?? SUITE_REGEX, '--exclude-list', EXCLUDE_LIST, '--concurrency', String(concurrency), '--subunit'];
  if (select.excludeRegex) args.push('--exclude-regex', select.excludeRegex);
  const env = {
    PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}`,
    HOME: dir,
    LC_ALL: 'C.UTF-8',
    // Tempest's workers, and subunit-results.py: the interpreter that has Debian's OpenStack modules.
    PYTHON: '/usr/bin/python3',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn('/usr/bin/tempest', args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let errors = '';
    const file = createWriteStream(subunit);
    child.stdout.pipe(file);
    child.stderr.on('data', (d) => (errors += d));
    child.once('error', (error) => reject((error as NodeJS.ErrnoException).code === 'ENOENT' ? new Error("tempest is not installed: run npm run setup (it installs Debian's tempest package)") : error));
    // With --subunit, tempest's exit code says nothing about the tests: the stream does.
    let exited: number | null = null;
    child.once('exit', (code) => (exited = code));
    // Discovery failures are written to the stream, not to stderr: keep its start for the error.
    file.once('close', () => resolve(`${errors}\ntempest exited ${exited}; its output began:\n${readFileSync(subunit).toString('latin1').slice(0, 3000)}`));
  });
  const parsed = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [SUBUNIT_RESULTS], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let errors = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (errors += d));
    child.stdin.end(readFileSync(subunit));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr: errors }));
  });
  if (parsed.code !== 0) throw new Error(`could not read Tempest's subunit stream: ${parsed.stderr}`);
  const results = parsed.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as TempestResult);
  if (results.length === 0) throw new Error(`Tempest ran no tests:\n${stderr.slice(-4000)}`);
  return results;
}
