import type { Session } from './session.js';

/**
 * Sign-in in AWS: the stack's Cognito hosted UI, OAuth 2.0 authorization code with PKCE (RFC
 * 7636, S256) for a public client (no secret in a browser). The tokens stay in this page's memory
 * only: a reload signs in again (the hosted UI remembers the user, so it is one redirect). Only
 * the PKCE verifier and state cross the redirect, in sessionStorage: one-time values, useless
 * without the code the hosted UI sends back to this page alone, and removed once used.
 */
export interface HostedSignInConfig {
  signIn: 'cognito';
  /** The API (`https://<id>.execute-api.<region>.amazonaws.com/<stage>/`). */
  apiUrl: string;
  cognito: {
    /** The hosted UI's origin (`https://<prefix>.auth.<region>.amazoncognito.com`). */
    domain: string;
    clientId: string;
    /** This console's URL: the app client's callback and logout URL. */
    redirectUri: string;
    scopes: string[];
  };
  /** The ID token claims the API's authorizer reads. */
  claims: { project: string; user: string; roles: string };
}

const PKCE_KEY = 'skyglass.console.pkce';

/** What a sign-in reads and changes of the page (browserSignInPage in app.tsx: window's location, history and sessionStorage). */
export interface SignInPage {
  /** The address's query (`?code=…&state=…` on the return). */
  readonly search: string;
  readonly pathname: string;
  readonly storage: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void };
  /** Replaces the address without a load (history.replaceState). */
  replaceUrl(url: string): void;
  /** Leaves for another page (location.assign). */
  go(url: string): void;
}

/** RFC 4648 §5 base64url, without padding. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A code verifier: 32 random bytes, 43 characters of base64url (RFC 7636 §4.1 asks 43 to 128). */
export function newVerifier(random: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer> = (b) => crypto.getRandomValues(b)): string {
  return base64url(random(new Uint8Array(32)));
}

/** The S256 code challenge: base64url(SHA-256(verifier)) (RFC 7636 §4.2). */
export async function challengeOf(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

/** Where the browser goes to sign in. */
export function authorizeUrl(config: HostedSignInConfig, challenge: string, state: string): string {
  const url = new URL('/oauth2/authorize', config.cognito.domain);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.cognito.clientId,
    redirect_uri: config.cognito.redirectUri,
    scope: config.cognito.scopes.join(' '),
    state,
    code_challenge_method: 'S256',
    code_challenge: challenge,
  }).toString();
  return url.toString();
}

/** The token request that trades the code for tokens, proving with the verifier that this page asked for it. */
export function tokenRequest(config: HostedSignInConfig, code: string, verifier: string): { url: string; body: URLSearchParams } {
  return {
    url: new URL('/oauth2/token', config.cognito.domain).toString(),
    body: new URLSearchParams({ grant_type: 'authorization_code', client_id: config.cognito.clientId, code, redirect_uri: config.cognito.redirectUri, code_verifier: verifier }),
  };
}

/** Where Sign out goes: the hosted UI forgets the user, then returns to the console. */
export function logoutUrl(config: HostedSignInConfig): string {
  const url = new URL('/logout', config.cognito.domain);
  url.search = new URLSearchParams({ client_id: config.cognito.clientId, logout_uri: config.cognito.redirectUri }).toString();
  return url.toString();
}

/**
 * Who the ID token says is signed in, read as the API's authorizer reads it (project, user and
 * roles claims). Its signature is not checked here: the API checks it on every call.
 */
export function sessionFromIdToken(idToken: string, claims: HostedSignInConfig['claims']): Session {
  const [, payload] = idToken.split('.');
  if (!payload) throw new Error('The sign-in answered no ID token.');
  const json = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)))) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  const rolesClaim = json[claims.roles];
  const roles =
    typeof rolesClaim === 'string'
      ? rolesClaim.trim().startsWith('[')
        ? (JSON.parse(rolesClaim) as unknown[]).filter((r): r is string => typeof r === 'string')
        : rolesClaim.split(/[\s,]+/).filter(Boolean)
      : Array.isArray(rolesClaim)
        ? rolesClaim.filter((r): r is string => typeof r === 'string')
        : [];
  const exp = typeof json.exp === 'number' ? json.exp : 0;
  return { token: idToken, project: text(json[claims.project]), user: text(json[claims.user]), roles, expiresAt: new Date(exp * 1000).toISOString() };
}

/** Starts a sign-in: a fresh verifier and state kept for the return, then the hosted UI. */
export async function beginHostedSignIn(config: HostedSignInConfig, page: SignInPage): Promise<void> {
  const verifier = newVerifier();
  const state = newVerifier();
  page.storage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  page.go(authorizeUrl(config, await challengeOf(verifier), state));
}

/**
 * On the return from the hosted UI (`?code=…&state=…`): checks the state is the one this tab
 * sent, trades the code, and takes the code out of the address bar. Null when this load is no return.
 */
export async function completeHostedSignIn(config: HostedSignInConfig, page: SignInPage, fetcher: typeof fetch = fetch): Promise<Session | null> {
  const params = new URLSearchParams(page.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return null;
  const pending = JSON.parse(page.storage.getItem(PKCE_KEY) ?? 'null') as { verifier: string; state: string } | null;
  page.storage.removeItem(PKCE_KEY);
  page.replaceUrl(page.pathname);
  if (error) throw new Error(`The sign-in was refused: ${params.get('error_description') ?? error}`);
  if (!pending || params.get('state') !== pending.state) throw new Error('This sign-in was not started by this tab: sign in again.');
  const request = tokenRequest(config, code as string, pending.verifier);
  const res = await fetcher(request.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: request.body,
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = (await res.json().catch(() => ({}))) as { id_token?: string; error?: string };
  if (!res.ok || !body.id_token) throw new Error(`The sign-in could not be completed (${body.error ?? res.status}).`);
  return sessionFromIdToken(body.id_token, config.claims);
}
