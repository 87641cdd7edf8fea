import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { readBody } from '../../shared/http/proxy-event.js';
import { CONSOLE_EXTRA_HEADERS, consoleContentSecurityPolicy } from '../console-headers.js';
import { CONSOLE_DIST } from './console-build.js';
import { signToken, withImpliedRoles, type DevKey } from './dev-key.js';

/**
 * The browser console on the local runtime's port: the built files (dist/console) under
 * /console/, and the local sign-in, which signs a token with the runtime's dev key for the
 * project and roles picked. Local only: the stack serves the files from S3 through CloudFront
 * and signs in with its identity provider; nothing here is deployed.
 */
export const CONSOLE_PATH = '/console';

export interface ConsoleOptions {
  key: DevKey;
  /** The host the runtime listens on: with the loopback names, the Host a sign-in may come to. */
  host: string;
  /** Origins the console's scripts may connect to besides its own (the S3 endpoint, for part uploads). */
  connectOrigins: string[];
  /** Where the built files are. @default dist/console */
  dir?: string;
}

export function isConsolePath(pathname: string): boolean {
  return pathname === CONSOLE_PATH || pathname.startsWith(`${CONSOLE_PATH}/`);
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Sent with every console answer: only the console's own files run, nothing frames it, nothing leaks in a Referer. */
export function securityHeaders(connectOrigins: string[]): Record<string, string> {
  return {
    'Content-Security-Policy': consoleContentSecurityPolicy(connectOrigins),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    ...CONSOLE_EXTRA_HEADERS,
  };
}

/** How long a console sign-in lasts (a working day; the tab forgets it sooner when closed). */
const SIGN_IN_SECONDS = 8 * 3600;
const ROLES = new Set(['reader', 'member', 'admin']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

export async function serveConsole(req: IncomingMessage, res: ServerResponse, pathname: string, options: ConsoleOptions): Promise<void> {
  const headers = securityHeaders(options.connectOrigins);
  const send = (status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const json = (status: number, body: unknown, extra: Record<string, string> = {}) =>
    send(status, 'application/json', JSON.stringify(body), { 'Cache-Control': 'no-store', ...extra });

  if (pathname === `${CONSOLE_PATH}/local-sign-in`) {
    if (req.method !== 'POST') return json(405, { message: 'Sign in with POST.', code: 405, title: 'Method Not Allowed' }, { Allow: 'POST' });
    return signIn(req, options, json);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return json(405, { message: `The method ${req.method ?? ''} is not allowed for this resource.`, code: 405, title: 'Method Not Allowed' }, { Allow: 'GET, HEAD' });
  }
  if (pathname === CONSOLE_PATH) return send(301, 'text/plain; charset=utf-8', '', { Location: `${CONSOLE_PATH}/` });
  if (pathname === `${CONSOLE_PATH}/config.json`) return json(200, { signIn: 'local' });

  const dir = options.dir ?? CONSOLE_DIST;
  const relative = safeRelativePath(pathname.slice(CONSOLE_PATH.length + 1));
  // Hashed bundle files never change; index.html names the current ones, so it is always re-read.
  if (relative?.startsWith(`assets${sep}`)) {
    const file = await readFile(join(dir, relative)).catch(() => null);
    if (!file) return send(404, 'text/plain; charset=utf-8', 'Not found.\n', { 'Cache-Control': 'no-store' });
    return send(200, CONTENT_TYPES[extname(relative)] ?? 'application/octet-stream', file, { 'Cache-Control': 'public, max-age=31536000, immutable' });
  }
  // Every other path is one of the console's own views: the browser-side router reads it.
  const index = await readFile(join(dir, 'index.html')).catch(() => null);
  if (!index) return send(503, 'text/plain; charset=utf-8', 'The console is not built: run npm run build:console (npm start builds it when missing).\n', { 'Cache-Control': 'no-store' });
  return send(200, CONTENT_TYPES['.html'] as string, index, { 'Cache-Control': 'no-cache' });
}

/** The path below /console/ as a relative file path, or null if it leaves the folder or cannot be decoded. */
function safeRelativePath(rest: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const path = normalize(decoded);
  return path.startsWith('..') || path.startsWith(sep) ? null : path;
}

type Answer = (status: number, body: unknown, extra?: Record<string, string>) => void;

/**
 * POST /console/local-sign-in `{"project", "roles", "user"?}` → `{"token", "project", "user",
 * "roles", "expiresAt"}`. Only from the console's own page: a JSON body (another origin cannot
 * send one without a preflight, which gets no CORS answer), the page's Origin, and a Host that is
 * the runtime's own (a DNS-rebound name is refused).
 */
async function signIn(req: IncomingMessage, options: ConsoleOptions, json: Answer): Promise<void> {
  const refuse = (status: number, message: string) => json(status, { message, code: status, title: status === 403 ? 'Forbidden' : 'Bad Request' });
  // The Origin and Host checks below stop browsers on other sites, not a script that sets both:
  // on a runtime reachable from other machines this would hand anyone an admin token.
  if (!LOOPBACK_HOSTS.has(options.host) && options.host !== '::1') {
    return refuse(403, `Local sign-in is offered only when the runtime listens on a loopback address (HOST=127.0.0.1, the default), not on ${options.host}: anyone who can reach the port could sign in as admin. Use a token from npm run token there.`);
  }
  const host = req.headers.host ?? '';
  const hostname = host.replace(/:\d+$/, '');
  if (!LOOPBACK_HOSTS.has(hostname) && hostname !== options.host) return refuse(403, `Local sign-in is only for the runtime's own address, not ${host}.`);
  if (req.headers.origin !== `http://${host}`) return refuse(403, "Local sign-in is only for the console's own page.");
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return refuse(400, 'Send the sign-in as application/json.');
  const raw = await readBody(req, 4097);
  if (raw.length > 4096) return refuse(400, 'The sign-in body is too large.');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return refuse(400, 'The sign-in body is not JSON.');
  }
  const { project, user, roles } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const name = /^[^\p{Cc}]{1,255}$/u;
  if (typeof project !== 'string' || !name.test(project)) return refuse(400, 'Pick a project: 1 to 255 characters.');
  if (user !== undefined && (typeof user !== 'string' || !name.test(user))) return refuse(400, 'A user, if given, is 1 to 255 characters.');
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every((role) => typeof role === 'string' && ROLES.has(role))) {
    return refuse(400, `Pick one or more roles of ${[...ROLES].join(', ')}.`);
  }
  const subject = user ?? `${project}-user`;
  const token = await signToken(options.key, { project, user: subject, roles: roles as string[], ttl: SIGN_IN_SECONDS });
  const expiresAt = new Date(Date.now() + SIGN_IN_SECONDS * 1000).toISOString();
  json(200, { token, project, user: subject, roles: withImpliedRoles(roles as string[]), expiresAt });
}
