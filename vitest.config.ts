import { defineConfig } from 'vitest/config';

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
        // Seeded, time-bounded property-based fuzzing of every route (test/fuzz/every-route.test.ts).
        test: {
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          globalSetup: ['test/api/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
