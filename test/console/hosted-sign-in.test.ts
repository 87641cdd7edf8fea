import { createHash } from 'node:crypto';
import type { Browser, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleContentSecurityPolicy } from '../../infra/console-headers.js';
import { apiUrl, createImage, tokenFor, uniqueProject } from '../api/client.js';
import { launchChromium, listStatus, shownNames } from './browser.js';

/**
 * The console's sign-in in AWS, in the browser: config.json names a Cognito hosted UI (as the
 * stack's BucketDeployment writes it), the page is served with the CSP the stack's CloudFront
 * sends (connect-src naming the hosted UI), and a stand-in hosted UI answers at the Cognito
 * domain through the browser's request routing: /oauth2/authorize sends the browser back with a
 * code, /oauth2/token trades it for an ID token only with the PKCE verifier whose S256 challenge
 * came with the authorize, and /logout returns to the console. The ID token is one the local
 * API accepts (the dev key's), so the page's API calls are real.
 */
const HOSTED_UI = 'https://skyglass-test.auth.us-east-1.amazoncognito.com';
const CLIENT_ID = 'console-client-id';

/**
 * The hosted UI's page once the user has signed in (or out): it sends the browser on to `next`. A
 * page rather than a 302, because the browser's request routing sees no request a redirect makes,
 * and the console's page must come with the deployed CSP.
 */
function signedInPage(next: string) {
  const escaped = next.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  return { contentType: 'text/html', body: `<!doctype html><title>Signed in</title><meta http-equiv="refresh" content="0;url=${escaped}">` };
}

interface HostedUi {
  authorizes: URLSearchParams[];
  tokenBodies: URLSearchParams[];
  logouts: URLSearchParams[];
}

describe('console sign-in through the Cognito hosted UI (PKCE), as deployed in AWS', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A page whose console is configured for the hosted UI, with a stand-in hosted UI signing in `idToken`'s owner. */
  async function cognitoConsole(idToken: string) {
    const consoleUrl = `${apiUrl()}/console/`;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const ui: HostedUi = { authorizes: [], tokenBodies: [], logouts: [] };
    const codes = new Map<string, string>(); // code → the S256 challenge it was issued for
    await page.route(`${apiUrl()}/console/config.json`, (route) =>
      route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({
          signIn: 'cognito',
          apiUrl: `${apiUrl()}/`,
          cognito: { domain: HOSTED_UI, clientId: CLIENT_ID, redirectUri: consoleUrl, scopes: ['openid', 'email', 'profile'] },
          claims: { project: 'project_id', user: 'sub', roles: 'roles' },
        }),
      }),
    );
    // The console's page with the CSP CloudFront sends: connect-src names the API, the store and the hosted UI.
    const store = /connect-src 'self' ([^;]+)/.exec(await (await fetch(consoleUrl)).headers.get('content-security-policy') ?? '')?.[1]?.split(' ') ?? [];
    expect(store).toHaveLength(1);
    await page.route(
      (url) => url.href.startsWith(consoleUrl) && url.pathname === '/console/',
      async (route: Route) => {
        const response = await route.fetch();
        await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': consoleContentSecurityPolicy([...store, HOSTED_UI]) } });
      },
    );
    await page.route(`${HOSTED_UI}/**`, async (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === '/oauth2/authorize') {
        ui.authorizes.push(url.searchParams);
        const code = `code-${ui.authorizes.length}`;
        codes.set(code, url.searchParams.get('code_challenge') ?? '');
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.search = new URLSearchParams({ code, state: url.searchParams.get('state') ?? '' }).toString();
        return route.fulfill(signedInPage(back.toString()));
      }
      const cors = { 'access-control-allow-origin': new URL(apiUrl()).origin };
      if (url.pathname === '/oauth2/token' && route.request().method() === 'POST') {
        const body = new URLSearchParams(route.request().postData() ?? '');
        ui.tokenBodies.push(body);
        const challenge = codes.get(body.get('code') ?? '');
        codes.delete(body.get('code') ?? '');
        const verified = challenge !== undefined && createHash('sha256').update(body.get('code_verifier') ?? '').digest('base64url') === challenge;
        if (!verified) return route.fulfill({ status: 400, headers: cors, contentType: 'application/json', body: JSON.stringify({ error: 'invalid_grant' }) });
        return route.fulfill({ headers: cors, contentType: 'application/json', body: JSON.stringify({ id_token: idToken, access_token: 'unused', token_type: 'Bearer', expires_in: 3600 }) });
      }
      if (url.pathname === '/logout') {
        ui.logouts.push(url.searchParams);
        return route.fulfill(signedInPage(url.searchParams.get('logout_uri')!));
      }
      return route.fulfill({ status: 404, body: 'not found' });
    });
    return { page, context, ui, errors, consoleUrl };
  }

  it('signs in with the code flow and PKCE, lists the project\'s images with the ID token, and signs out through the hosted UI', async () => {
    const project = uniqueProject('console-cognito');
    const token = await tokenFor(project);
    await createImage(token, { name: 'cognito-visible' });
    const { page, context, ui, errors, consoleUrl } = await cognitoConsole(token);
    try {
      await page.goto(consoleUrl);
      await page.getByRole('heading', { name: 'Sign in to Skyglass' }).waitFor();
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();

      // What went to the hosted UI: a public client's code request with an S256 challenge, and no secret.
      expect(ui.authorizes).toHaveLength(1);
      const authorize = Object.fromEntries(ui.authorizes[0]!);
      expect(authorize).toMatchObject({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: consoleUrl, scope: 'openid email profile', code_challenge_method: 'S256' });
      expect(authorize.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(authorize.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const exchange = Object.fromEntries(ui.tokenBodies[0]!);
      expect(exchange).toMatchObject({ grant_type: 'authorization_code', client_id: CLIENT_ID, code: 'code-1', redirect_uri: consoleUrl });
      expect(exchange).not.toHaveProperty('client_secret');

      // Signed in as the ID token says, the code gone from the address bar, the project's images listed by the API.
      await expect.poll(() => page.url()).toBe(consoleUrl);
      expect(await page.locator('.who').textContent()).toContain(`Project ${project}`);
      await listStatus(page, /Page 1: 1 image\./);
      expect(await shownNames(page)).toEqual(['cognito-visible']);
      // The tokens live in the page's memory only: nothing in either storage, no cookie.
      expect(await page.evaluate('JSON.stringify([Object.keys(sessionStorage), Object.values(localStorage).join(), document.cookie])')).not.toContain(token.slice(0, 20));
      expect(await page.evaluate('Object.keys(sessionStorage).length')).toBe(0);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in to Skyglass' }).waitFor();
      expect(ui.logouts.map((p) => Object.fromEntries(p))).toEqual([{ client_id: CLIENT_ID, logout_uri: consoleUrl }]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('refuses a return whose state this tab did not send, and trades no code', async () => {
    const project = uniqueProject('console-cognito-state');
    const { page, context, ui } = await cognitoConsole(await tokenFor(project));
    try {
      // A link someone else made: a code and a state, but this tab started no sign-in.
      await page.goto(`${apiUrl()}/console/?code=stolen&state=forged`);
      await page.getByText('This sign-in was not started by this tab: sign in again.').waitFor();
      expect(ui.tokenBodies).toHaveLength(0);
      expect(page.url()).toBe(`${apiUrl()}/console/`);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
    } finally {
      await context.close();
    }
  });
});
