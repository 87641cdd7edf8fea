import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  authorizeUrl,
  base64url,
  challengeOf,
  completeHostedSignIn,
  logoutUrl,
  newVerifier,
  sessionFromIdToken,
  tokenRequest,
  type HostedSignInConfig,
  type SignInPage,
} from '../../console/src/hosted-sign-in.js';

/**
 * The console's sign-in in AWS (console/src/hosted-sign-in.ts): Cognito's hosted UI with the
 * authorization code and PKCE. A browser test cannot reach Cognito, so the flow's code is checked
 * here: RFC 7636's own example, the requests Cognito's endpoints take, and the return to the page.
 */
const CONFIG: HostedSignInConfig = {
  signIn: 'cognito',
  apiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev/',
  cognito: {
    domain: 'https://skyglass-dev-123456789012.auth.eu-west-1.amazoncognito.com',
    clientId: 'console-client',
    redirectUri: 'https://d111111abcdef8.cloudfront.net/console/',
    scopes: ['openid', 'email', 'profile'],
  },
  claims: { project: 'custom:project_id', user: 'sub', roles: 'custom:roles' },
};

/** RFC 7636 Appendix B: the octets, the verifier they make, and its S256 challenge. */
const RFC_OCTETS = [116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121];
const RFC_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const RFC_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

function idToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part(claims)}.signature`;
}

describe('PKCE (RFC 7636)', () => {
  it("makes RFC 7636's verifier from its octets and the S256 challenge of it", async () => {
    expect(newVerifier((bytes) => (bytes.set(RFC_OCTETS), bytes))).toBe(RFC_VERIFIER);
    expect(await challengeOf(RFC_VERIFIER)).toBe(RFC_CHALLENGE);
  });

  it('draws a fresh 43-character verifier each time, in base64url', () => {
    const a = newVerifier();
    const b = newVerifier();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(base64url(new Uint8Array([251, 255]))).toBe('-_8');
  });
});

describe("Cognito's endpoints", () => {
  it('sends the browser to /oauth2/authorize with the code flow, the S256 challenge, the state and the callback', () => {
    const url = new URL(authorizeUrl(CONFIG, RFC_CHALLENGE, 'state-1'));
    expect(url.origin + url.pathname).toBe(`${CONFIG.cognito.domain}/oauth2/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'console-client',
      redirect_uri: CONFIG.cognito.redirectUri,
      scope: 'openid email profile',
      state: 'state-1',
      code_challenge_method: 'S256',
      code_challenge: RFC_CHALLENGE,
    });
  });

  it('trades the code at /oauth2/token with the verifier and no secret', () => {
    const request = tokenRequest(CONFIG, 'the-code', RFC_VERIFIER);
    expect(request.url).toBe(`${CONFIG.cognito.domain}/oauth2/token`);
    expect(Object.fromEntries(request.body)).toEqual({
      grant_type: 'authorization_code',
      client_id: 'console-client',
      code: 'the-code',
      redirect_uri: CONFIG.cognito.redirectUri,
      code_verifier: RFC_VERIFIER,
    });
  });

  it('signs out at /logout, back to the console', () => {
    const url = new URL(logoutUrl(CONFIG));
    expect(url.origin + url.pathname).toBe(`${CONFIG.cognito.domain}/logout`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: 'console-client', logout_uri: CONFIG.cognito.redirectUri });
  });

  it("reads who signed in from the ID token's claims, as the API's authorizer does", () => {
    const token = idToken({ sub: 'alice', 'custom:project_id': 'demo', 'custom:roles': 'member,reader', exp: 2_000_000_000 });
    expect(sessionFromIdToken(token, CONFIG.claims)).toEqual({ token, project: 'demo', user: 'alice', roles: ['member', 'reader'], expiresAt: '2033-05-18T03:33:20.000Z' });
    expect(sessionFromIdToken(idToken({ 'custom:roles': '["admin"]' }), CONFIG.claims).roles).toEqual(['admin']);
  });
});

describe('the return from the hosted UI', () => {
  const storage = new Map<string, string>();
  let replaced: string[] = [];
  function page(search: string): SignInPage {
    replaced = [];
    return {
      search,
      pathname: '/console/',
      storage: { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => void storage.set(k, v), removeItem: (k) => void storage.delete(k) },
      replaceUrl: (url) => void replaced.push(url),
      go: () => undefined,
    };
  }
  afterEach(() => storage.clear());

  it('trades the code with the verifier this tab kept, takes the code out of the address bar, and forgets the verifier', async () => {
    storage.set('skyglass.console.pkce', JSON.stringify({ verifier: RFC_VERIFIER, state: 'state-1' }));
    const tab = page('?code=the-code&state=state-1');
    const token = idToken({ sub: 'alice', 'custom:project_id': 'demo', 'custom:roles': 'admin', exp: 2_000_000_000 });
    const sent: Array<{ url: string; body: string }> = [];
    const fetcher = (async (url: string, init: RequestInit) => {
      sent.push({ url, body: String(init.body) });
      return new Response(JSON.stringify({ id_token: token, access_token: 'a', token_type: 'Bearer' }), { status: 200 });
    }) as unknown as typeof fetch;
    const session = await completeHostedSignIn(CONFIG, tab, fetcher);
    expect(session).toMatchObject({ token, project: 'demo', user: 'alice', roles: ['admin'] });
    expect(sent).toHaveLength(1);
    expect(new URLSearchParams(sent[0]!.body).get('code_verifier')).toBe(RFC_VERIFIER);
    expect(replaced).toEqual(['/console/']);
    expect(storage.size).toBe(0);
  });

  it('refuses a return whose state this tab did not send, without trading its code', async () => {
    storage.set('skyglass.console.pkce', JSON.stringify({ verifier: RFC_VERIFIER, state: 'state-1' }));
    const tab = page('?code=stolen&state=other');
    const fetcher = vi.fn();
    await expect(completeHostedSignIn(CONFIG, tab, fetcher as unknown as typeof fetch)).rejects.toThrow('This sign-in was not started by this tab');
    expect(fetcher).not.toHaveBeenCalled();
  });

  it("shows the hosted UI's refusal, and does nothing on an ordinary load", async () => {
    await expect(completeHostedSignIn(CONFIG, page('?error=access_denied&error_description=User+is+disabled'), vi.fn() as unknown as typeof fetch)).rejects.toThrow('The sign-in was refused: User is disabled');
    expect(await completeHostedSignIn(CONFIG, page(''), vi.fn() as unknown as typeof fetch)).toBeNull();
  });
});
