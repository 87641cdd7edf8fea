import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A token as Keystone's validation answers it. */
export interface FakeToken {
  project: string;
  user: string;
  roles: string[];
  /** Defaults to an hour from now. */
  expiresAt?: Date;
  /** A domain- or system-scoped token: no project in the answer. */
  unscoped?: boolean;
}

/**
 * Keystone's `GET /v3/auth/tokens` and nothing else, for the cases a real Keystone cannot be
 * made to show on demand: revoked and expired tokens at will, a 5xx, a hang. It answers as
 * Keystone does: 200 with `{"token": ...}` when the token validates itself, 404 when the subject
 * token is not valid, 401 when the token in X-Auth-Token is not.
 */
export class FakeKeystone {
  readonly tokens = new Map<string, FakeToken>();
  /** Validations asked for, by subject token. */
  readonly validations: string[] = [];
  /** Answer every validation with this status (503: Keystone overloaded), or hang ('hang'). */
  failure: number | 'hang' | undefined;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const subject = String(req.headers['x-subject-token'] ?? '');
      const caller = String(req.headers['x-auth-token'] ?? '');
      if (req.method !== 'GET' || req.url !== '/v3/auth/tokens') return res.writeHead(404).end();
      this.validations.push(subject);
      if (this.failure === 'hang') return; // never answers
      if (this.failure) return res.writeHead(this.failure, { 'Content-Type': 'application/json' }).end('{"error": {"code": 503}}');
      const valid = (t: string) => {
        const token = this.tokens.get(t);
        return token && (token.expiresAt ?? new Date(Date.now() + 3600_000)).getTime() > Date.now() ? token : undefined;
      };
      if (!valid(caller)) return res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error": {"code": 401, "title": "Unauthorized"}}');
      const token = valid(subject);
      if (!token) return res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error": {"code": 404, "title": "Not Found"}}');
      const expires = (token.expiresAt ?? new Date(Date.now() + 3600_000)).toISOString();
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Subject-Token': subject });
      res.end(
        JSON.stringify({
          token: {
            methods: ['password'],
            user: { id: token.user, name: token.user, domain: { id: 'default', name: 'Default' } },
            ...(token.unscoped ? {} : { project: { id: token.project, name: token.project, domain: { id: 'default', name: 'Default' } } }),
            roles: token.roles.map((name, i) => ({ id: `role-${i}`, name })),
            expires_at: expires,
            issued_at: new Date().toISOString(),
          },
        }),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
