import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { LocalRuntime } from '../../infra/local/server.js';
import { TEST_QUOTAS } from './test-quotas.js';

/**
 * Starts one local runtime (emulators in memory) for the run, unless SKYGLASS_API_URL points
 * the suite at a deployed stack (then SKYGLASS_DATA_DIR holds the dev key that stack trusts,
 * see README "LocalStack"). The api and compat projects share the one runtime: its handlers
 * live in this process and read their configuration once, so there can be only one.
 */
const TEST_SCRUB_DELAY_SECONDS = '3';

interface Shared {
  started: Promise<{ runtime: LocalRuntime; dataDir: string }>;
  users: number;
}
// On globalThis: vitest loads this module once per project.
const slot = globalThis as typeof globalThis & { __skyglassRuntime?: Shared };

export default async function setup(project: TestProject) {
  if (process.env.SKYGLASS_API_URL) {
    project.provide('apiUrl', process.env.SKYGLASS_API_URL.replace(/\/$/, ''));
    project.provide('dataDir', process.env.SKYGLASS_DATA_DIR ?? '.skyglass');
    project.provide('dynamodbEndpoint', process.env.SKYGLASS_DYNAMODB_ENDPOINT ?? '');
    project.provide('tableName', process.env.SKYGLASS_TABLE_NAME ?? '');
    project.provide('s3Endpoint', process.env.SKYGLASS_S3_ENDPOINT ?? '');
    project.provide('bucket', process.env.SKYGLASS_BUCKET ?? '');
    project.provide('eventsFile', '');
    project.provide('eventsEndpoint', '');
    project.provide('scrubDelaySeconds', Number(process.env.SCRUB_DELAY_SECONDS ?? 3600));
    return;
  }
  const shared = (slot.__skyglassRuntime ??= {
    started: (async () => {
      const { startLocalRuntime } = await import('../../infra/local/server.js');
      // A short restore window, so the scrubber's whole path runs within the tests.
      process.env.SCRUB_DELAY_SECONDS = TEST_SCRUB_DELAY_SECONDS;
      // Retries after injected faults come quickly (the definitions' intervals are seconds).
      process.env.SKYGLASS_LOCAL_RETRY_MS = '50';
      // web-download from the tests' own servers on 127.0.0.1 (any port but 9, the refused one
      // of web-download.test.ts; `localhost` is its refused host). Loopback is the local
      // runtime's default; every other private range stays refused.
      process.env.SKYGLASS_IMPORT_ALLOWED_PORTS = '';
      process.env.SKYGLASS_IMPORT_DISALLOWED_PORTS = '9';
      process.env.SKYGLASS_IMPORT_DISALLOWED_HOSTS = 'localhost';
      // Progress on the task every 4 MiB (256 MiB deployed), so a test's source shows it.
      process.env.SKYGLASS_IMPORT_PROGRESS_BYTES = String(4 * 1024 * 1024);
      // Copies between stores above 8 MiB take the multipart path (UploadPartCopy) in 5 MiB
      // parts (S3's smallest), so copy-image.test.ts runs it with a 12 MiB image.
      process.env.SKYGLASS_COPY_SINGLE_MAX_BYTES = String(8 * 1024 * 1024);
      process.env.SKYGLASS_COPY_PART_BYTES = String(5 * 1024 * 1024);
      const dataDir = mkdtempSync(join(tmpdir(), 'skyglass-test-'));
      // Quotas for the quota tests' own projects only (test/api/test-quotas.ts).
      process.env.QUOTAS_FILE = join(dataDir, 'quotas.json');
      writeFileSync(process.env.QUOTAS_FILE, JSON.stringify(TEST_QUOTAS));
      return { runtime: await startLocalRuntime({ port: 0, dataDir, inMemory: true }), dataDir };
    })(),
    users: 0,
  });
  shared.users++;
  const { runtime, dataDir } = await shared.started;
  project.provide('apiUrl', runtime.url);
  project.provide('dataDir', dataDir);
  project.provide('dynamodbEndpoint', runtime.dynamodbEndpoint);
  project.provide('tableName', runtime.tableName);
  project.provide('s3Endpoint', runtime.s3Endpoint);
  project.provide('bucket', runtime.bucket);
  project.provide('eventsFile', runtime.eventsFile);
  project.provide('eventsEndpoint', runtime.eventsEndpoint);
  project.provide('scrubDelaySeconds', Number(TEST_SCRUB_DELAY_SECONDS));
  return async () => {
    if (--shared.users > 0) return;
    slot.__skyglassRuntime = undefined;
    await runtime.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    dataDir: string;
    dynamodbEndpoint: string;
    tableName: string;
    s3Endpoint: string;
    bucket: string;
    /** Where the local runtime writes published events ('' against a deployed stack). */
    eventsFile: string;
    eventsEndpoint: string;
    scrubDelaySeconds: number;
  }
}
