/**
 * Keystone token validation for the authorizer's Keystone mode (DESIGN §5): the caller's token
 * validates itself, `GET {keystone}/v3/auth/tokens` with `X-Auth-Token` and `X-Subject-Token`
 * both set to it (Keystone's `token_subject` rule), so no service password is stored anywhere.
 * Keystone's answer already holds implied roles (a member also has reader).
 */

/** Who a valid token speaks for, and until when Keystone says it is valid. */
export interface KeystoneIdentity {
  projectId: string;
  userId: string;
  roles: string[];
  expiresAt: number;
}

/** Keystone could not say whether the token is valid (unreachable, slow, 5xx, a refusal to validate). */
export class KeystoneUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeystoneUnavailable';
  }
}

interface TokenBody {
  token?: {
    expires_at?: string;
    project?: { id?: string };
    user?: { id?: string };
    roles?: Array<{ name?: string }>;
  };
}

/**
 * The identity the token carries, or null when Keystone says it is not a valid token for a
 * project (invalid, expired, revoked: 404; or 401; or valid but not project-scoped, which
 * Glance's policies cannot place).
 */
export async function validateKeystoneToken(keystoneUrl: string, token: string, timeoutMs = 3000): Promise<KeystoneIdentity | null> {
  let res: Response;
  try {
    res = await fetch(new URL('v3/auth/tokens', withSlash(keystoneUrl)), {
      headers: {
        'X-Auth-Token': token,
        'X-Subject-Token': token,
        Accept: 'application/json',
        // Keystone behind uWSGI's own HTTP socket closes after each answer without saying so:
        // a kept-alive socket would fail the next validation.
        Connection: 'close',
      },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new KeystoneUnavailable(`Keystone at ${keystoneUrl} unreachable: ${describe(error)}`);
  }
  const text = await res.text().catch(() => '');
  if (res.status === 404 || res.status === 401) return null;
  if (res.status !== 200) throw new KeystoneUnavailable(`Keystone at ${keystoneUrl} answered ${res.status} to a token validation`);
  let body: TokenBody;
  try {
    body = JSON.parse(text) as TokenBody;
  } catch {
    throw new KeystoneUnavailable(`Keystone at ${keystoneUrl} answered a validation with something other than JSON`);
  }
  const t = body.token;
  const expiresAt = Date.parse(t?.expires_at ?? '');
  const projectId = t?.project?.id;
  const userId = t?.user?.id;
  if (!projectId || !userId || !Number.isFinite(expiresAt) || expiresAt <= Date.now()) return null;
  const roles = (t?.roles ?? []).map((r) => r.name).filter((n): n is string => typeof n === 'string' && n.length > 0);
  return { projectId, userId, roles, expiresAt };
}

const withSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/**
 * Validated tokens kept in the process until the earlier of their expiry and `ttlSeconds`
 * (keystonemiddleware's `token_cache_time`, 300 s by default), at most `maxEntries` of them.
 * Only valid tokens are kept: an invalid one is asked about again, as a fresh token may be.
 */
export class IdentityCache {
  private readonly entries = new Map<string, { identity: KeystoneIdentity; until: number }>();

  constructor(
    private readonly ttlSeconds: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(token: string): KeystoneIdentity | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.identity;
  }

  set(token: string, identity: KeystoneIdentity): void {
    if (this.ttlSeconds <= 0) return;
    this.entries.delete(token);
    // Maps iterate in insertion order: the first key is the oldest entry.
    while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { identity, until: Math.min(identity.expiresAt, this.now() + this.ttlSeconds * 1000) });
  }
}
