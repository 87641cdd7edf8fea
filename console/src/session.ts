import type { HostedSignInConfig } from './hosted-sign-in.js';

/**
 * Who is signed in. Locally the token lives in this tab's sessionStorage (in AWS, in memory only:
 * hosted-sign-in.ts): readable only by scripts of
 * this origin (the console's own, under a CSP that admits no other), gone when the tab closes,
 * never a cookie (so no other origin can make the browser send it) and never in a URL.
 */
export interface Session {
  token: string;
  project: string;
  user: string;
  roles: string[];
  /** ISO time the token stops being accepted. */
  expiresAt: string;
}

/** The roles the local picker offers (Glance's secure-RBAC personas; admin implies member, member implies reader). */
export const LOCAL_ROLES = ['reader', 'member', 'admin'] as const;

const KEY = 'skyglass.console.session';

export function loadSession(): Session | null {
  try {
    const session = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    if (!session || Date.parse(session.expiresAt) <= Date.now()) return null;
    return session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

/**
 * What serves the console says about signing in (`/console/config.json`): the local runtime's
 * picker, or (the stack's config.json) the hosted UI and the API's URL.
 */
export type ConsoleConfig = { signIn: 'local' } | HostedSignInConfig;

export async function loadConfig(): Promise<ConsoleConfig> {
  const res = await fetch('/console/config.json', { cache: 'no-store', credentials: 'omit' });
  if (!res.ok) throw new Error(`The console's configuration did not load (${res.status})`);
  return (await res.json()) as ConsoleConfig;
}

/**
 * The local runtime's sign-in (infra/local/console-server.ts): a token for the project and roles
 * picked, signed with the runtime's dev key. No password: locally anyone can mint a token with
 * `npm run token`; the endpoint exists only in the local runtime, never in the stack.
 */
export async function signInLocally(project: string, roles: string[], user: string | undefined): Promise<Session> {
  const res = await fetch('/console/local-sign-in', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ project, roles, ...(user ? { user } : {}) }),
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = (await res.json().catch(() => ({}))) as Partial<Session> & { message?: string };
  if (!res.ok || !body.token) throw new Error(body.message ?? `Sign-in failed (${res.status})`);
  return body as Session;
}
