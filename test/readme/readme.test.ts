import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../infra/local/dev-key.js';
import { freePort } from '../../infra/local/ports.js';
import { codeOf, expectations, outputByReadmeLine, outputShows, readmeBlocks, scriptOf, type ReadmeBlock } from './readme-blocks.js';
import { CHECKOUT, spawnGroup, stopGroup, userEnvironment } from './processes.js';

/**
 * The README's walkthroughs, run as a newcomer would type them, so they cannot drift from the
 * product. The runnable blocks run in order in one bash, in a scratch folder (so the files they
 * make stay out of the checkout) with `npm` pointed at the checkout, as if typed there; the first
 * block starts `npm start` itself, on a free port (PORT) with its own DATA_DIR. Every command
 * whose comment says `→ <text>` must print that line; then the uploaded image and its download
 * are checked through the API.
 */
const readme = readFileSync(join(CHECKOUT, 'README.md'), 'utf8');
const blocks = readmeBlocks(readme);
const runnable = blocks.filter((b) => b.mark?.run);
const WALKTHROUGH_LIMIT_MS = 240_000;

describe('the README', () => {
  it('marks every sh block as run, or skip with the reason it cannot run here', () => {
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      expect(block.mark, `sh block at README line ${block.line} has no <!-- readme-test: run --> or <!-- readme-test: skip: why --> before it`).not.toBeNull();
      if (block.mark && !block.mark.run) expect(block.mark.why.length, `skipped block at line ${block.line} says why`).toBeGreaterThan(10);
    }
    // Deploying needs AWS and LocalStack needs Docker; the set-up block is what CI runs; the
    // Keystone block needs a cloud's admin (test/keystone/real-keystone.test.ts does the same);
    // the web-download block starts a second runtime (test/compat/web-download.test.ts runs its glance command);
    // the copy-image one needs an admin and an active image (test/compat/stores.test.ts runs it).
    expect(blocks.filter((b) => !b.mark?.run).map((b) => b.code.map(codeOf).find(Boolean))).toEqual([
      'npm run setup', 'python3 -m http.server 8000 &', 'glance image-import --import-method copy-image --stores eu $ID', 'openstack service create --name glance image', 'npm ci', 'docker compose up -d',
    ]);
  });

  it('gives the set-up and test commands that .ci/run runs, exactly', () => {
    const setUp = blocks.find((b) => b.code.some((line) => codeOf(line) === 'npm run setup'))!;
    const readmeCommands = setUp.code.map(codeOf).filter(Boolean);
    expect(readmeCommands).toEqual(['npm run setup', 'npm start', 'npm test']);
    const ci = readFileSync(join(CHECKOUT, '.ci/run'), 'utf8')
      .split('\n')
      .map(codeOf)
      .filter((line) => line.startsWith('npm '));
    expect(ci).toEqual(readmeCommands.filter((c) => c !== 'npm start'));
  });

  describe('walkthroughs, run against npm start', () => {
    let scratch: string;
    let dataDir: string;
    let port: number;
    let shell: ChildProcess | undefined;
    let output = '';
    let exitCode: number | null = null;
    let readmeLine: number[] = [];
    let disk: Buffer;

    beforeAll(async () => {
      scratch = mkdtempSync(join(tmpdir(), 'skyglass-readme-'));
      dataDir = join(scratch, 'service-data');
      const home = join(scratch, 'work');
      mkdirSync(home);
      mkdirSync(join(scratch, 'tmp'));
      // The user's image: a qcow2 holding 12 MiB of data, so the upload has two 8 MiB parts.
      writeFileSync(join(scratch, 'disk.raw'), randomBytes(12 * 1024 * 1024));
      execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', join(scratch, 'disk.raw'), join(home, 'disk.qcow2')]);
      disk = readFileSync(join(home, 'disk.qcow2'));
      port = await freePort();
      const built = scriptOf(runnable, [
        `npm() { command npm --prefix ${JSON.stringify(CHECKOUT)} "$@"; }`,
        // npx as typed in the checkout: the package's own bins (the skyglass CLI), run in this folder.
        `npx() { command npm --prefix ${JSON.stringify(CHECKOUT)} exec -- "$@"; }`,
      ]);
      readmeLine = built.readmeLine;
      writeFileSync(join(scratch, 'readme.sh'), built.script);
      shell = spawnGroup('bash', [join(scratch, 'readme.sh')], {
        cwd: home,
        env: userEnvironment({ PORT: String(port), DATA_DIR: dataDir, TMPDIR: join(scratch, 'tmp') }),
      });
      shell.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      shell.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // 'exit', not 'close': the npm start it left in the background still holds its stdout.
      const exited = new Promise<number | null>((resolve) => shell!.once('exit', (code) => resolve(code)));
      // A walkthrough that hangs (say, a service that never gets ready) is stopped, so the tests
      // below report what it printed rather than a bare hook timeout.
      const hung = new Promise<null>((resolve) => setTimeout(() => resolve(null), WALKTHROUGH_LIMIT_MS).unref());
      exitCode = await Promise.race([exited, hung]);
      if (exitCode === null) output += `\n(stopped after ${WALKTHROUGH_LIMIT_MS / 1000} s)`;
    }, WALKTHROUGH_LIMIT_MS + 30_000);

    afterAll(async () => {
      if (shell) await stopGroup(shell);
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    const log = () => {
      const file = join(scratch, 'work', 'skyglass.log');
      return existsSync(file) ? readFileSync(file, 'utf8').slice(-3000) : '(no skyglass.log)';
    };

    it('run to the end, every command succeeding', () => {
      const printed = outputByReadmeLine(output, readmeLine);
      const last = [...printed.keys()].at(-1);
      expect(exitCode, `the blocks stopped at README line ${last} (exit ${exitCode}):\n${output.slice(-3000)}\nskyglass.log:\n${log()}`).toBe(0);
    });

    for (const block of runnable) {
      for (const { first, last, expected } of expectations(block as ReadmeBlock)) {
        it(`README line ${first}: prints ${expected}`, () => {
          const printed = outputByReadmeLine(output, readmeLine);
          const got = [...printed].filter(([line]) => line >= first && line <= last).map(([, text]) => text).join('');
          expect(outputShows(got, expected), `README line ${first} printed:\n${got || '(nothing)'}\nskyglass.log:\n${log()}`).toBe(true);
        });
      }
    }

    it('uploads the image: active, with its size and checksum, and the download is the same bytes', async () => {
      const token = await mintToken(dataDir, { project: 'demo', roles: ['member'] });
      const res = await fetch(`http://127.0.0.1:${port}/v2/images?name=disk`, { headers: { 'X-Auth-Token': token } });
      expect(res.status).toBe(200);
      const { images } = (await res.json()) as { images: Array<Record<string, unknown>> };
      expect(images).toHaveLength(1);
      expect(images[0]).toMatchObject({
        status: 'active',
        size: disk.length,
        checksum: createHash('md5').update(disk).digest('hex'),
        os_hash_algo: 'sha512',
        os_hash_value: createHash('sha512').update(disk).digest('hex'),
      });
      expect(readFileSync(join(scratch, 'work', 'copy.qcow2')).equals(disk)).toBe(true);
    });
  });
});
