import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../console/src/operations.js';
import { ROUTES } from '../../shared/routes.js';

/** The browser console calls the API by the route table's names: a renamed or moved route fails here, not in a browser. */
describe("the console's API calls", () => {
  const openapi = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'openapi.json'), 'utf8')) as {
    paths: Record<string, Record<string, { operationId: string }>>;
  };
  it.each(Object.entries(OPERATIONS))('%s is that route of the route table and of docs/openapi.json', (operationId, { method, path }) => {
    const route = ROUTES.find((r) => r.operationId === operationId);
    expect(route).toMatchObject({ method, path });
    expect(openapi.paths[path]?.[method.toLowerCase()]?.operationId).toBe(operationId);
  });
});
