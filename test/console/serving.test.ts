import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { apiUrl, call, uniqueProject } from '../api/client.js';

/** The console's files and its local sign-in as the runtime serves them, seen over plain HTTP. */

/** The console's script, minified (React 19 and react-dom alone are ~190 kB of it). */
const CONSOLE_SCRIPT_BUDGET = 350_000;

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${apiUrl()}${path}`, { headers, redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function signInRequest(body: unknown, headers: Record<string, string> = { Origin: apiUrl(), 'Content-Type': 'application/json' }) {
  return fetch(`${apiUrl()}/console/local-sign-in`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** A raw request with a Host of our choosing (fetch will not send a forged one). */
function postWithHost(host: string, body: string): Promise<{ status: number; text: string }> {
  const url = new URL(apiUrl());
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: '/console/local-sign-in', method: 'POST', headers: { Host: host, Origin: `http://${host}`, 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('the console is served at /console/ with its security headers', () => {
  it('answers index.html with a CSP that runs only its own files, and the built page has no inline script or style', async () => {
    const res = await get('/console/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.text).toContain('<div id="root"></div>');
    // Every script comes from a file; no style attribute or element.
    const scripts = [...res.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const tag of scripts) expect(tag).toMatch(/\bsrc="\/console\/assets\/[^"]+\.js"/);
    expect(res.text).not.toMatch(/<style\b|\sstyle=/);
  });

  it('serves the bundle files with their content types, cached for good, and 404 for a missing one', async () => {
    const index = await get('/console/');
    const js = /src="(\/console\/assets\/[^"]+\.js)"/.exec(index.text)?.[1];
    const css = /href="(\/console\/assets\/[^"]+\.css)"/.exec(index.text)?.[1];
    expect(js && css).toBeTruthy();
    const script = await get(js!);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('content-security-policy')).toContain("script-src 'self'");
    const style = await get(css!);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    // React's production build (a development one, as NODE_ENV=test would give, is ~500 kB), within budget.
    expect(Buffer.byteLength(script.text)).toBeLessThan(CONSOLE_SCRIPT_BUDGET);
    const missing = await get('/console/assets/nothing-here.js');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  });

  it("answers the console's own page for its views and unknown sub-paths, redirects /console, and never serves files outside the build", async () => {
    const index = await get('/console/');
    for (const path of ['/console/images/0b6e4a3c-0000-4000-8000-000000000000', '/console/anything/else']) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.text).toBe(index.text);
    }
    const bare = await get('/console');
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/console/');
    for (const path of ['/console/assets/..%2f..%2f..%2fpackage.json', '/console/assets/%2e%2e/%2e%2e/%2e%2e/package.json', '/console/..%2f..%2fpackage.json']) {
      const res = await get(path);
      expect(res.text).not.toContain('"devDependencies"');
    }
    const post = await fetch(`${apiUrl()}/console/`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('the local sign-in signs a token for the project and roles picked, for the console page only', () => {
  it('answers a token the API accepts for that project, with the implied roles, never as a cookie', async () => {
    const project = uniqueProject('console-sign-in');
    const res = await signInRequest({ project, roles: ['member'] });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { token: string; project: string; user: string; roles: string[]; expiresAt: string };
    expect(body).toMatchObject({ project, user: `${project}-user`, roles: ['member', 'reader'] });
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
    const created = await call('/v2/images', { method: 'POST', token: body.token, json: { name: 'signed-in' } });
    expect(created.status).toBe(201);
    expect(created.body.owner).toBe(project);
  });

  it('refuses a request from another origin, without a JSON body, to a foreign Host, or with roles it does not know', async () => {
    const project = uniqueProject('console-refused');
    const noOrigin = await signInRequest({ project, roles: ['member'] }, { 'Content-Type': 'application/json' });
    expect(noOrigin.status).toBe(403);
    const otherOrigin = await signInRequest({ project, roles: ['member'] }, { Origin: 'http://evil.example', 'Content-Type': 'application/json' });
    expect(otherOrigin.status).toBe(403);
    // A form post (no preflight) from any page is not a sign-in.
    const form = await signInRequest(`project=${project}&roles=admin`, { Origin: apiUrl(), 'Content-Type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(400);
    // A DNS-rebound name pointing at 127.0.0.1: same origin for the browser, not the runtime's own address.
    const rebound = await postWithHost(`rebound.example:${new URL(apiUrl()).port}`, JSON.stringify({ project, roles: ['admin'] }));
    expect(rebound.status).toBe(403);
    expect(rebound.text).not.toContain('token');
    for (const body of [{ project, roles: ['root'] }, { project, roles: [] }, { project: '', roles: ['member'] }, { roles: ['member'] }]) {
      const res = await signInRequest(body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toBeTruthy();
    }
    const get = await fetch(`${apiUrl()}/console/local-sign-in`);
    expect(get.status).toBe(405);
  });
});
