import { CliError, EXIT, usageError } from './errors.js';
import { unreachable } from './api.js';

/**
 * Keystone password auth, as glanceclient and openstackclient do it from the usual OS_*
 * variables (or their --os-* flags): a project-scoped token from `POST {auth_url}/v3/auth/tokens`,
 * and the image service's endpoint from the token's catalog (interface and region as asked).
 */
export interface PasswordAuth {
  authUrl: string;
  username: string;
  password: string;
  projectName?: string | undefined;
  projectId?: string | undefined;
  userDomainName?: string | undefined;
  userDomainId?: string | undefined;
  projectDomainName?: string | undefined;
  projectDomainId?: string | undefined;
  regionName?: string | undefined;
  interface: string;
}

export interface KeystoneSession {
  token: string;
  /** The catalog's image endpoint, when it has one for the interface and region. */
  imageUrl: string | undefined;
}

type Setting = (flag: string, variable: string) => string | undefined;

/** The password settings, when OS_AUTH_URL (or --os-auth-url) asks for them; undefined otherwise. */
export function passwordAuthFrom(setting: Setting): PasswordAuth | undefined {
  const authUrl = setting('os-auth-url', 'OS_AUTH_URL');
  if (!authUrl) return undefined;
  const username = setting('os-username', 'OS_USERNAME');
  const password = setting('os-password', 'OS_PASSWORD');
  const projectName = setting('os-project-name', 'OS_PROJECT_NAME');
  const projectId = setting('os-project-id', 'OS_PROJECT_ID');
  if (!username) throw usageError('You must provide a username via either --os-username or env[OS_USERNAME]');
  if (!password) throw usageError('You must provide a password via either --os-password or env[OS_PASSWORD]');
  if (!projectName && !projectId) throw usageError('You must provide a project via either --os-project-name or --os-project-id (env[OS_PROJECT_NAME], env[OS_PROJECT_ID])');
  return {
    authUrl,
    username,
    password,
    projectName,
    projectId,
    userDomainName: setting('os-user-domain-name', 'OS_USER_DOMAIN_NAME'),
    userDomainId: setting('os-user-domain-id', 'OS_USER_DOMAIN_ID'),
    projectDomainName: setting('os-project-domain-name', 'OS_PROJECT_DOMAIN_NAME'),
    projectDomainId: setting('os-project-domain-id', 'OS_PROJECT_DOMAIN_ID'),
    regionName: setting('os-region-name', 'OS_REGION_NAME'),
    interface: (setting('os-interface', 'OS_INTERFACE') ?? 'public').replace(/URL$/, ''),
  };
}

/** `http://ks:5000`, `http://ks:5000/` and `http://ks:5000/v3` all mean the v3 API. */
function v3(authUrl: string): string {
  const base = authUrl.replace(/\/+$/, '');
  if (/\/v2(\.0)?$/.test(base)) throw usageError(`--os-auth-url ${authUrl}: Keystone's v2.0 API is gone; use its v3 URL`);
  return /\/v3$/.test(base) ? base : `${base}/v3`;
}

const domain = (name: string | undefined, id: string | undefined) => (id ? { id } : { name: name ?? 'Default' });

interface CatalogEntry {
  type?: string;
  endpoints?: Array<{ interface?: string; region?: string; region_id?: string; url?: string }>;
}

export async function keystoneSession(auth: PasswordAuth): Promise<KeystoneSession> {
  const url = `${v3(auth.authUrl)}/auth/tokens`;
  const body = {
    auth: {
      identity: { methods: ['password'], password: { user: { name: auth.username, domain: domain(auth.userDomainName, auth.userDomainId), password: auth.password } } },
      scope: { project: auth.projectId ? { id: auth.projectId } : { name: auth.projectName, domain: domain(auth.projectDomainName, auth.projectDomainId) } },
    },
  };
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
  } catch (error) {
    throw unreachable(auth.authUrl, error);
  }
  const text = await res.text();
  const token = res.headers.get('x-subject-token');
  if (res.status !== 201 || !token) {
    let message = '';
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? '';
    } catch {
      message = text.trim();
    }
    throw new CliError(`Keystone at ${auth.authUrl} refused the credentials: HTTP ${res.status}${message ? `: ${message}` : ''}`, EXIT.api);
  }
  const catalog = ((JSON.parse(text) as { token?: { catalog?: CatalogEntry[] } }).token?.catalog ?? []).filter((s) => s.type === 'image');
  const endpoint = catalog
    .flatMap((s) => s.endpoints ?? [])
    .find((e) => e.interface === auth.interface && (!auth.regionName || e.region_id === auth.regionName || e.region === auth.regionName));
  return { token, imageUrl: endpoint?.url };
}
