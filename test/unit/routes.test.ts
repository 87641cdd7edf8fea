import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { openApiDocument } from '../../shared/openapi.js';
import { AUTHORIZER_HANDLER, FALLBACK_HANDLER, matchPath, ROUTES } from '../../shared/routes.js';

describe('route table', () => {
  it('declares each method and path once, with unique operation ids and existing handlers', () => {
    const keys = ROUTES.map((r) => `${r.method} ${r.path}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(ROUTES.map((r) => r.operationId)).size).toBe(ROUTES.length);
    for (const entry of [...ROUTES.map((r) => r.handler), AUTHORIZER_HANDLER, FALLBACK_HANDLER]) expect(existsSync(entry), entry).toBe(true);
  });

  it('matches templates and decodes path parameters', () => {
    const [tag] = matchPath('/v2/images/abc/tags/with%20space');
    expect(tag?.pathParameters).toEqual({ image_id: 'abc', tag_value: 'with space' });
    expect(matchPath('/v2/images/abc').map((m) => m.route.method).sort()).toEqual(['DELETE', 'GET', 'PATCH']);
    expect(matchPath('/v2/images/')).toEqual([]);
    expect(matchPath('/v2/images/a/b')).toEqual([]);
  });

  it('is what the OpenAPI document describes, operation for operation', () => {
    const doc = openApiDocument();
    const described = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => `${method.toUpperCase()} ${path} ${(op as { operationId: string }).operationId}`),
    );
    expect(described.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path} ${r.operationId}`).sort());
  });

  it('matches the committed docs/openapi.json (regenerate with npm run openapi)', () => {
    expect(JSON.parse(readFileSync('docs/openapi.json', 'utf8'))).toEqual(openApiDocument());
  });
});
