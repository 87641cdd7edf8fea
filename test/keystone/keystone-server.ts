import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../infra/local/ports.js';
import { killGroup } from '../support/process-group.js';

const run = promisify(execFile);

/**
 * A real OpenStack Keystone (Debian's `keystone` package, which `npm run setup` installs) for
 * the tests, with everything under one folder: SQLite, fernet keys, logs. Its WSGI app is served
 * by uWSGI's own HTTP socket, one process and one thread (SQLite takes one writer), with an
 * in-process cache (without one a validation costs ~150 queries). bootstrap makes admin/admin
 * and the roles admin, member and reader (member implies reader).
 */
export class KeystoneServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  url = '';
  private adminToken = '';
  private imageEndpointId = '';
  readonly adminPassword = 'admin-secret';

  constructor(private readonly dir: string) {}

  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const etc = join(this.dir, 'etc');
    for (const sub of ['etc', 'log', 'fernet-keys', 'credential-keys']) mkdirSync(join(this.dir, sub), { recursive: true, mode: 0o700 });
    const conf = join(etc, 'keystone.conf');
    writeFileSync(
      conf,
      [
        '[DEFAULT]',
        `log_file = ${join(this.dir, 'log', 'keystone.log')}`,
        'use_stderr = false',
        '[database]',
        `connection = sqlite:///${join(this.dir, 'keystone.sqlite')}`,
        '[token]',
        'provider = fernet',
        '[fernet_tokens]',
        `key_repository = ${join(this.dir, 'fernet-keys')}`,
        '[fernet_receipts]',
        `key_repository = ${join(this.dir, 'fernet-keys')}`,
        '[credential]',
        `key_repository = ${join(this.dir, 'credential-keys')}`,
        '[identity]',
        // The cheapest bcrypt cost: the tests make users and log in often.
        'password_hash_rounds = 4',
        '[cache]',
        'enabled = true',
        'backend = dogpile.cache.memory',
        '',
      ].join('\n'),
    );
    const manage = (...args: string[]) => run('keystone-manage', ['--config-file', conf, ...args], { timeout: 120_000 });
    try {
      await manage('db_sync');
      await manage('fernet_setup', '--keystone-user', 'root', '--keystone-group', 'root');
      await manage('credential_setup', '--keystone-user', 'root', '--keystone-group', 'root');
      await manage('bootstrap', '--bootstrap-password', this.adminPassword, '--bootstrap-username', 'admin', '--bootstrap-project-name', 'admin', '--bootstrap-role-name', 'admin', '--bootstrap-region-id', 'RegionOne', '--bootstrap-public-url', `${this.url}/v3`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('keystone-manage is not installed: run npm run setup (it installs Debian\'s keystone package)');
      throw error;
    }
    const ini = join(etc, 'uwsgi.ini');
    writeFileSync(
      ini,
      [
        '[uwsgi]',
        'plugins = python3',
        `http-socket = 127.0.0.1:${port}`,
        // uWSGI's plain HTTP socket closes after each answer without saying so.
        'add-header = Connection: close',
        'wsgi-file = /usr/bin/keystone-wsgi-public',
        `env = OS_KEYSTONE_CONFIG_DIR=${etc}`,
        'master = true',
        'die-on-term = true',
        'processes = 1',
        'threads = 1',
        'buffer-size = 65535',
        'need-app = true',
        `logto = ${join(this.dir, 'log', 'uwsgi.log')}`,
        '',
      ].join('\n'),
    );
    const child = spawn('uwsgi', ['--ini', ini], { detached: true, stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`uwsgi (keystone) exited ${child.exitCode}: see ${join(this.dir, 'log')}`);
      const ok = await fetch(`${this.url}/v3`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`keystone did not answer on ${this.url}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    this.adminToken = await this.passwordToken('admin', this.adminPassword, 'admin');
  }

  /** A project-scoped token for a user, as the clients' password auth gets one. */
  async passwordToken(user: string, password: string, project: string): Promise<string> {
    const res = await fetch(`${this.url}/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } },
          scope: { project: { name: project, domain: { id: 'default' } } },
        },
      }),
    });
    const token = res.headers.get('x-subject-token');
    if (res.status !== 201 || !token) throw new Error(`no token for ${user}: ${res.status} ${await res.text()}`);
    return token;
  }

  private async admin<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/v3${path}`, {
      method,
      headers: { 'X-Auth-Token': this.adminToken, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`keystone ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A project with one user holding `roles` on it; the project's id. */
  async projectWithUser(project: string, user: string, password: string, roles: string[]): Promise<string> {
    const { project: made } = await this.admin<{ project: { id: string } }>('POST', '/projects', { project: { name: project, domain_id: 'default' } });
    const { user: person } = await this.admin<{ user: { id: string } }>('POST', '/users', { user: { name: user, password, domain_id: 'default' } });
    const { roles: known } = await this.admin<{ roles: Array<{ id: string; name: string }> }>('GET', '/roles');
    for (const role of roles) {
      const id = known.find((r) => r.name === role)?.id;
      if (!id) throw new Error(`keystone has no role ${role}`);
      await this.admin('PUT', `/projects/${made.id}/users/${person.id}/roles/${id}`);
    }
    return made.id;
  }

  /** Registers the image service in the catalog, as an operator does: `openstack endpoint create … image public <url>`. */
  async registerImageService(url: string): Promise<void> {
    const { service } = await this.admin<{ service: { id: string } }>('POST', '/services', { service: { type: 'image', name: 'glance', enabled: true } });
    const { endpoint } = await this.admin<{ endpoint: { id: string } }>('POST', '/endpoints', { endpoint: { service_id: service.id, interface: 'public', region_id: 'RegionOne', url, enabled: true } });
    this.imageEndpointId = endpoint.id;
  }

  /** Points the catalog's image endpoint (registerImageService's) at another URL, as an operator moving the service does. */
  async moveImageService(url: string): Promise<void> {
    if (!this.imageEndpointId) throw new Error('registerImageService first');
    await this.admin('PATCH', `/endpoints/${this.imageEndpointId}`, { endpoint: { url } });
  }

  /** Revokes a token (DELETE /v3/auth/tokens), as a logout or a password change does. */
  async revoke(token: string): Promise<void> {
    const res = await fetch(`${this.url}/v3/auth/tokens`, { method: 'DELETE', headers: { 'X-Auth-Token': this.adminToken, 'X-Subject-Token': token } });
    if (res.status !== 204) throw new Error(`revoke: ${res.status}`);
  }

  async stop(): Promise<void> {
    await killGroup(this.child, this.exited);
    this.child = undefined;
  }
}
