import { describe, expect, it } from 'vitest';
import { renderGatewayResponseBody } from '../../shared/http/gateway-responses.js';

describe("the serverless stack's 413 for image data (no data front)", () => {
  it('names the data route it refused and the upload extension', () => {
    for (const resource of ['file', 'stage']) {
      const body = JSON.parse(renderGatewayResponseBody('REQUEST_TOO_LARGE', { httpMethod: 'PUT', resourcePath: `/v2/images/{image_id}/${resource}` }));
      expect(body.error.code).toBe(413);
      expect(body.error.message).toMatch(new RegExp(`^Request body too large for PUT /v2/images/\\{image_id\\}/${resource}: `));
      expect(body.error.message).toContain('image data of any size with the upload extension, POST /v2/images/{image_id}/uploads');
      expect(body.error.message).not.toContain('$context');
    }
  });
});
