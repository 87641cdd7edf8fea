import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

/** The local runtime's token issuer: a real ES256 key kept in DATA_DIR, so tokens are really verified. */
export const LOCAL_ISSUER = 'skyglass-local';
export const LOCAL_AUDIENCE = 'skyglass';

export interface DevKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

const devKeyFile = (dataDir: string) => join(dataDir, 'dev-key.json');

/** The key a runtime with this DATA_DIR uses, or null if none has used it yet. Never creates one. */
export function loadDevKey(dataDir: string): DevKey | null {
  try {
    return JSON.parse(readFileSync(devKeyFile(dataDir), 'utf8')) as DevKey;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** For the runtime itself (and the LocalStack deploy, which trusts the same key). */
export async function loadOrCreateDevKey(dataDir: string): Promise<DevKey> {
  const file = devKeyFile(dataDir);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevKey;
  } catch {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const kid = `local-${Date.now().toString(36)}`;
    const key: DevKey = {
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    };
    mkdirSync(dataDir, { recursive: true });
    // 'wx' so two processes starting at once keep the first key rather than overwrite it.
    try {
      writeFileSync(file, JSON.stringify(key), { mode: 0o600, flag: 'wx' });
    } catch {
      return JSON.parse(readFileSync(file, 'utf8')) as DevKey;
    }
    return key;
  }
}

export function publicJwks(key: DevKey): string {
  return JSON.stringify({ keys: [key.publicJwk] });
}

export interface TokenClaims {
  project: string;
  user?: string;
  roles?: string[];
  /** Lifetime in seconds (default 12 h). */
  ttl?: number;
}

/** Signs with the key already in dataDir: a freshly made key would be one no runtime trusts. */
export async function mintToken(dataDir: string, claims: TokenClaims): Promise<string> {
  const key = loadDevKey(dataDir);
  if (!key) throw new Error(`no dev key in ${dataDir}: no local runtime has used this DATA_DIR`);
  return signToken(key, claims);
}

/**
 * Keystone's default role inference (`keystone-manage bootstrap`: admin implies member, member
 * implies reader): a Keystone token lists the implied roles too, and Glance's secure-RBAC rules
 * rely on it (a member reads because it is also a reader). The local issuer does the same.
 */
const IMPLIED_ROLES: Readonly<Record<string, readonly string[]>> = { admin: ['member'], member: ['reader'] };

export function withImpliedRoles(roles: readonly string[]): string[] {
  const all = new Set<string>();
  const add = (role: string) => {
    if (all.has(role)) return;
    all.add(role);
    for (const implied of IMPLIED_ROLES[role.toLowerCase()] ?? []) add(implied);
  };
  roles.forEach(add);
  return [...all];
}

export async function signToken(key: DevKey, claims: TokenClaims): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, 'ES256');
  return new SignJWT({ project_id: claims.project, roles: withImpliedRoles(claims.roles ?? ['member', 'reader']) })
    .setProtectedHeader({ alg: 'ES256', kid: key.privateJwk.kid ?? 'local' })
    .setIssuer(LOCAL_ISSUER)
    .setAudience(LOCAL_AUDIENCE)
    .setSubject(claims.user ?? `${claims.project}-user`)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttl ?? 12 * 3600}s`)
    .sign(privateKey);
}
