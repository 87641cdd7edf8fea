import { describe, expect, it } from 'vitest';
import { call, tokenFor, uniqueProject } from './client.js';

/**
 * Links behind the data front's CloudFront distribution: API Gateway sees the origin's host, so
 * the distribution passes the viewer's as X-Forwarded-Host (infra/constructs/data-front.ts), and
 * version discovery and Location name the endpoint the client called (Glance's public_endpoint).
 * Otherwise a client that follows the version document's link (keystoneauth's discovery) would
 * leave the one endpoint for the bare API and its 4.5 MB body limit.
 */
describe('absolute links name the host the client called, as X-Forwarded-Host gives it', () => {
  it('in version discovery: the link is the forwarded host, with no stage prefix', async () => {
    const res = await call('/versions', { headers: { 'X-Forwarded-Host': 'images.example.com' } });
    expect(res.status).toBe(200);
    expect(res.body.versions[0].links[0].href).toMatch(/^https?:\/\/images\.example\.com\/v2\/$/);
  });

  it("in a created image's Location", async () => {
    const token = await tokenFor(uniqueProject());
    const res = await call('/v2/images', { method: 'POST', token, json: { name: 'linked' }, headers: { 'X-Forwarded-Host': 'images.example.com:8443' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toMatch(new RegExp(`^https?://images\\.example\\.com:8443/v2/images/${res.body.id}$`));
  });

  it('ignores a forwarded host that is not a host name (no path, spaces or second value smuggled into links)', async () => {
    for (const forged of ['evil.example/x', 'a b', 'evil.example, other.example']) {
      const res = await call('/versions', { headers: { 'X-Forwarded-Host': forged } });
      expect(res.body.versions[0].links[0].href, forged).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\/$/);
    }
  });
});
