import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// The AWS calls the functions make during this run (shared/adapters/aws-call-log.ts), for the
// iam project to check against the stack's IAM. Set here, in the main process, so the local
// runtime (started by the api project's global setup) and every test worker inherit it. A log
// named by the caller is kept (to read it); the run's own is removed when the run ends.
if (!process.env.SKYGLASS_AWS_CALL_LOG) {
  const callLog = join(tmpdir(), `skyglass-aws-calls-${process.pid}.jsonl`);
  process.env.SKYGLASS_AWS_CALL_LOG = callLog;
  process.once('exit', () => rmSync(callLog, { force: true }));
}

// Separate projects so unit and infra runs do not wait for the local runtime to start.
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 300_000 } },
      {
        test: {
          name: 'api',
          include: ['test/api/**/*.test.ts'],
          globalSetup: ['test/api/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // What a newcomer types: the README's blocks, the token command and the set-up check,
        // each against its own `npm start` (a child process with its own port and DATA_DIR).
        test: { name: 'readme', include: ['test/readme/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 300_000 },
      },
      {
        // The stock glance and openstack CLIs (Debian packages) against the local runtime;
        // each command takes 1-3 s to start, and the steps of a scenario run in order.
        test: {
          name: 'compat',
          include: ['test/compat/**/*.test.ts'],
          globalSetup: ['test/api/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The `skyglass` CLI (cli/), built once and run as a process against the local runtime.
        test: {
          name: 'cli',
          include: ['test/cli/**/*.test.ts'],
          globalSetup: ['test/api/global-setup.ts', 'test/cli/build-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The browser console in headless Chromium (Debian's package, driven by playwright-core),
        // built first when stale, against the api project's runtime.
        test: {
          name: 'console',
          include: ['test/console/**/*.test.ts'],
          globalSetup: ['test/console/global-setup.ts', 'test/api/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Keystone mode: runtimes of their own (KEYSTONE_URL), a fake Keystone and a real one;
        // OpenStack's Tempest image suite runs here too, against a real Keystone.
        // The skyglass CLI's password auth is tried there too (its bundle built as for test/cli).
        test: { name: 'keystone', include: ['test/keystone/**/*.test.ts', 'test/tempest/**/*.test.ts'], globalSetup: ['test/cli/build-setup.ts'], testTimeout: 180_000, hookTimeout: 300_000 },
      },
      {
        // The local runtime in a child process, killed between writes and their side effects
        // and started again on the same data (test/crash/runtime-process.ts).
        test: { name: 'crash', include: ['test/crash/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 300_000 },
      },
      {
        // Seeded, time-bounded property-based fuzzing of every route (test/fuzz/every-route.test.ts).
        test: {
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          globalSetup: ['test/api/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // After every other project (group 1 starts when group 0 has finished): checks each AWS
        // call the api and compat suites made against the IAM the synthesized stack grants.
        test: {
          name: 'iam',
          include: ['test/iam/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
