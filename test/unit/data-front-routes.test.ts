import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DATA_FRONT, matchPath, ROUTES } from '../../shared/routes.js';

/**
 * What the data front serves and the CloudFront path patterns that send it requests
 * (DATA_FRONT, shared/routes.ts): the patterns must take exactly the front's routes, whatever
 * the image id, and never another route's path, whatever its other parameters hold.
 */

/** CloudFront's path pattern match: `*` any characters, `?` exactly one, case-sensitive. */
function cloudFrontMatches(pattern: string, path: string): boolean {
  const regex = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(path);
}
const toFront = (path: string) => DATA_FRONT.pathPatterns.some((pattern) => cloudFrontMatches(pattern, path));

describe('the data front in the route table', () => {
  it('serves PUT /file, PUT /stage and GET /file, with their access plus the streaming upload\'s', () => {
    expect(DATA_FRONT.routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      'GET /v2/images/{image_id}/file',
      'PUT /v2/images/{image_id}/file',
      'PUT /v2/images/{image_id}/stage',
    ]);
    expect([...DATA_FRONT.access].sort()).toEqual(['bucket:abort', 'bucket:delete', 'bucket:multipart', 'bucket:read', 'bucket:write', 'table:read', 'table:write']);
  });

  it('leaves aborting multipart uploads to the front: the small-body Lambdas of its routes hold no bucket:abort', () => {
    for (const operationId of ['uploadImageFile', 'stageImageData']) {
      expect(ROUTES.find((r) => r.operationId === operationId)?.access, operationId).not.toContain('bucket:abort');
    }
  });

  it('sends the front its paths for any image id, in either case', () => {
    for (const id of [randomUUID(), randomUUID().toUpperCase()]) {
      expect(toFront(`/v2/images/${id}/file`)).toBe(true);
      expect(toFront(`/v2/images/${id}/stage`)).toBe(true);
    }
  });

  it('sends it no other route\'s path, even with a tag, member or upload named "file" or "stage"', () => {
    const id = randomUUID();
    for (const route of ROUTES.filter((r) => !DATA_FRONT.paths.includes(r.path))) {
      for (const value of ['file', 'stage', id]) {
        const path = route.path.replace('{image_id}', id).replace(/\{[a-z_]+\}/g, value);
        expect(matchPath(path).some((m) => m.route === route), path).toBe(true);
        expect(toFront(path), `${route.operationId}: ${path}`).toBe(false);
      }
    }
  });

  it('keeps its health check outside every route and every pattern', () => {
    expect(matchPath(DATA_FRONT.healthPath)).toEqual([]);
    expect(toFront(DATA_FRONT.healthPath)).toBe(false);
  });
});
