import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * Starts one local runtime (DynamoDB Local in memory) for the run, unless SKYGLASS_API_URL
 * points the API suite at a deployed stack (then SKYGLASS_DATA_DIR holds the dev key that
 * stack trusts, see README "LocalStack").
 */
export default async function setup(project: TestProject) {
  if (process.env.SKYGLASS_API_URL) {
    project.provide('apiUrl', process.env.SKYGLASS_API_URL.replace(/\/$/, ''));
    project.provide('dataDir', process.env.SKYGLASS_DATA_DIR ?? '.skyglass');
    project.provide('dynamodbEndpoint', process.env.SKYGLASS_DYNAMODB_ENDPOINT ?? '');
    project.provide('tableName', process.env.SKYGLASS_TABLE_NAME ?? '');
    return;
  }
  const { startLocalRuntime } = await import('../../infra/local/server.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'skyglass-test-'));
  const runtime = await startLocalRuntime({ port: 0, dataDir, inMemory: true });
  project.provide('apiUrl', runtime.url);
  project.provide('dataDir', dataDir);
  project.provide('dynamodbEndpoint', runtime.dynamodbEndpoint);
  project.provide('tableName', runtime.tableName);
  return async () => {
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
  }
}
