import { describe, expect, it } from 'vitest';
import { renderGatewayResponseBody } from '../../shared/http/gateway-responses.js';

describe("the serverless stack's 413 for image data (no data front)", () => {
  const refusal = (resource: string) =>
    JSON.parse(renderGatewayResponseBody('REQUEST_TOO_LARGE', { httpMethod: 'PUT', resourcePath: `/v2/images/{image_id}/${resource}` })).error;

  it('names the data route it refused and the upload extension', () => {
    for (const resource of ['file', 'stage']) {
      const error = refusal(resource);
      expect(error.code).toBe(413);
      expect(error.message).toMatch(new RegExp(`^Request body too large for PUT /v2/images/\\{image_id\\}/${resource}: `));
      expect(error.message).toContain('image data of any size with the upload extension, POST /v2/images/{image_id}/uploads');
      expect(error.message).not.toContain('$context');
    }
  });

  it('names every alternative: the skyglass CLI (which uses the extension), web-download import, and the data front', () => {
    const { message } = refusal('file');
    expect(message).toContain('the skyglass CLI');
    expect(message).toContain('web-download');
    expect(message).toContain('POST /v2/images/{image_id}/import');
    expect(message).toContain('skyglass:dataFront=true');
    expect(message).toContain('PUT /file and PUT /stage of any size');
  });
});
