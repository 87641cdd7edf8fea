import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

/** The local runtime's token issuer: a real ES256 key kept in DATA_DIR, so tokens are really verified. */
export const LOCAL_ISSUER = 'skyglass-local';
export const LOCAL_AUDIENCE = 'skyglass';

interface DevKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

export async function loadOrCreateDevKey(dataDir: string): Promise<DevKey> {
  const file = join(dataDir, 'dev-key.json');
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

export async function mintToken(dataDir: string, claims: TokenClaims): Promise<string> {
  const key = await loadOrCreateDevKey(dataDir);
  const privateKey = await importJWK(key.privateJwk, 'ES256');
  return new SignJWT({ project_id: claims.project, roles: claims.roles ?? ['member', 'reader'] })
    .setProtectedHeader({ alg: 'ES256', kid: key.privateJwk.kid ?? 'local' })
    .setIssuer(LOCAL_ISSUER)
    .setAudience(LOCAL_AUDIENCE)
    .setSubject(claims.user ?? `${claims.project}-user`)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttl ?? 12 * 3600}s`)
    .sign(privateKey);
}
