import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { apiUrl } from '../api/client.js';

/**
 * Running the stock OpenStack clients from Debian against the local runtime. The Debian
 * clients run on /usr/bin/python3, so they are called by absolute path (a pyenv python on PATH
 * lacks them). CI installs them; a machine without them fails here, it does not skip.
 */
export const GLANCE = '/usr/bin/glance';
export const OPENSTACK = '/usr/bin/openstack';
/**
 * openstackclient 7.4 (trixie's, unpacked by scripts/setup-openstackclient.sh), for the
 * `image metadef` commands Debian bookworm's 6.0.0 lacks; everything else uses Debian's own.
 */
export const OPENSTACK_METADEF = fileURLToPath(new URL('../../.tools/openstackclient/bin/openstack', import.meta.url));
const PACKAGES = 'python3-glanceclient python3-openstackclient';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface BinaryCliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface StockClients {
  /** A private directory for this file's runs: HOME, and a place for image files. */
  dir(): string;
  glance(token: string, ...args: string[]): Promise<CliResult>;
  /** glance with stdout kept as bytes (`image-download` without `--file` writes the image there). */
  glanceBinary(token: string, ...args: string[]): Promise<BinaryCliResult>;
  openstack(token: string, ...args: string[]): Promise<CliResult>;
  /** openstackclient 7.4 (OPENSTACK_METADEF), for `openstack image metadef …`. */
  openstackMetadef(token: string, ...args: string[]): Promise<CliResult>;
  /** openstack … -f json, asserted to succeed, parsed. */
  openstackJson(token: string, ...args: string[]): Promise<any>;
  /**
   * glance started with its stdin a pipe the test writes image data into (glanceclient reads
   * image data from a stdin that is not a terminal and sends it chunked), for a test that kills
   * the client midway.
   */
  spawnGlance(token: string, ...args: string[]): ChildProcessByStdio<Writable, Readable, Readable>;
}

const missing = () =>
  [GLANCE, OPENSTACK, OPENSTACK_METADEF].filter((bin) => {
    try {
      accessSync(bin, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });

/** The caller's environment without OS_* credentials or Python overrides that would steer the clients. */
function cliEnv(homeDir: string): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^OS_/i.test(key) || /^PYTHON/.test(key) || key === 'VIRTUAL_ENV' || key === 'PYENV_VERSION') continue;
    clean[key] = value;
  }
  const noProxy = ['127.0.0.1', 'localhost', process.env.NO_PROXY ?? process.env.no_proxy].filter(Boolean).join(',');
  return { ...clean, HOME: homeDir, LC_ALL: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', NO_PROXY: noProxy, no_proxy: noProxy };
}

export interface StockClientOptions {
  /**
   * The image service the clients talk to (default: the local runtime under test). Pointing it
   * at token-proxy.py in front of the real Glance checks a scenario is known-correct.
   */
  url?: () => string;
  /**
   * A fresh HOME for every command, so glanceclient never reuses a cached schema: the real
   * Glance's image schema has a `stores` property, which a cached copy turns into a second
   * `--stores` option ("argument --stores: conflicting option string") on every later command.
   */
  forgetSchemas?: boolean;
  /** How long one command may run before it is killed (default 60 s; a 1 GiB transfer needs more). */
  commandTimeoutMs?: number;
}

/**
 * Registers the hooks of one test file (a private HOME, since glanceclient caches the server's
 * schemas under ~/.glanceclient; every test failing, none skipped, without the clients) and
 * returns the runners.
 */
export function stockClients(options: StockClientOptions = {}): StockClients {
  const url = options.url ?? apiUrl;
  let home = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'skyglass-compat-'));
    env = cliEnv(home);
  });

  beforeEach(() => {
    const absent = missing();
    if (absent.length > 0) {
      throw new Error(
        `${absent.join(' and ')} not found: the compat suite needs the stock clients. ` +
          `Install them with npm run setup (as root), or apt-get install -y --no-install-recommends ${PACKAGES} ` +
          `and bash scripts/setup-openstackclient.sh (CI runs npm run setup).`,
      );
    }
  });

  afterAll(() => {
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /**
   * Runs a client with stdin closed (`<&-`), not merely empty: glanceclient and openstackclient
   * read image data from any stdin that is not a terminal, and /dev/null would make
   * `image-create` try to upload zero bytes (and `image-create-via-import --file` refuse to run).
   */
  function run(bin: string, args: string[], encoding: 'utf8' | 'buffer'): Promise<{ code: number; stdout: string | Buffer; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        '/bin/sh',
        ['-c', 'exec "$0" "$@" <&-', bin, ...args],
        { env: options.forgetSchemas ? cliEnv(mkdtempSync(join(home, 'run-'))) : env, cwd: home, timeout: options.commandTimeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, encoding },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          const errText = stderr.toString();
          resolve({ code, stdout, stderr: error && code === -1 ? `${errText}\n(${error.message})` : errText });
        },
      );
    });
  }

  const glanceArgs = (token: string, args: string[]) => ['--os-image-url', url(), '--os-auth-token', token, ...args];
  const glance = async (token: string, ...args: string[]) => (await run(GLANCE, glanceArgs(token, args), 'utf8')) as CliResult;
  const glanceBinary = async (token: string, ...args: string[]) => (await run(GLANCE, glanceArgs(token, args), 'buffer')) as BinaryCliResult;
  const openstackArgs = (token: string, args: string[]) => ['--os-auth-type', 'admin_token', '--os-token', token, '--os-endpoint', `${url()}/v2`, ...args];
  const openstack = async (token: string, ...args: string[]) => (await run(OPENSTACK, openstackArgs(token, args), 'utf8')) as CliResult;
  const openstackMetadef = async (token: string, ...args: string[]) => (await run(OPENSTACK_METADEF, openstackArgs(token, args), 'utf8')) as CliResult;
  const openstackJson = async (token: string, ...args: string[]) => JSON.parse(ok(await openstack(token, ...args, '-f', 'json')).stdout);

  const spawnGlance = (token: string, ...args: string[]) =>
    spawn(GLANCE, glanceArgs(token, args), { env, cwd: home, stdio: ['pipe', 'pipe', 'pipe'] });

  return { dir: () => home, glance, glanceBinary, openstack, openstackMetadef, openstackJson, spawnGlance };
}

export function ok<T extends { code: number; stdout: string | Buffer; stderr: string }>(result: T): T {
  const stdout = typeof result.stdout === 'string' ? result.stdout : `<${result.stdout.length} bytes>`;
  expect(result.code, `exit ${result.code}\nstdout: ${stdout}\nstderr: ${result.stderr}`).toBe(0);
  return result;
}

/**
 * glanceclient's prettytable output as rows keyed by the header cells. Rows whose first cell
 * is empty continue the previous row (print_dict wraps long values).
 */
export function parseTable(output: string): Record<string, string>[] {
  const lines = output.split('\n').filter((line) => line.startsWith('|'));
  const cells = (line: string) => line.slice(1, -1).split('|').map((cell) => cell.trim());
  const [header, ...body] = lines;
  if (!header) return [];
  const keys = cells(header);
  const rows: Record<string, string>[] = [];
  for (const line of body) {
    const values = cells(line);
    const previous = rows[rows.length - 1];
    if (values[0] === '' && previous) {
      keys.forEach((key, i) => (previous[key] = `${previous[key]}${values[i] ? ` ${values[i]}` : ''}`.trim()));
      continue;
    }
    rows.push(Object.fromEntries(keys.map((key, i) => [key, values[i] ?? ''])));
  }
  return rows;
}

/** glanceclient's `Property | Value` table (image-create, image-show, image-update). */
export function parseDict(output: string): Record<string, string> {
  return Object.fromEntries(parseTable(output).map((row) => [row.Property, row.Value]));
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
