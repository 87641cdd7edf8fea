import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serveConsole } from '../../infra/local/console-server.js';
import { loadOrCreateDevKey } from '../../infra/local/dev-key.js';

/**
 * The local sign-in signs a token for any project and roles, admin included; its Origin and Host
 * checks stop browsers on other sites, not a script that sets both. So it is offered only when the
 * runtime listens on a loopback address: on HOST=0.0.0.0 anyone who could reach the port could
 * sign in as admin.
 */
const dir = mkdtempSync(join(tmpdir(), 'skyglass-sign-in-'));
const servers: Server[] = [];
afterAll(() => {
  for (const server of servers) server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function consoleListeningAs(host: string): Promise<string> {
  const key = await loadOrCreateDevKey(dir);
  const server = createServer((req, res) => void serveConsole(req, res, new URL(req.url ?? '/', 'http://x').pathname, { key, host, connectOrigins: [] }));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const signIn = (hostPort: string) =>
  fetch(`http://${hostPort}/console/local-sign-in`, {
    method: 'POST',
    headers: { Origin: `http://${hostPort}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ project: 'p', roles: ['admin'] }),
  });

describe('the console\'s local sign-in', () => {
  it('signs in when the runtime listens on loopback', async () => {
    const res = await signIn(await consoleListeningAs('127.0.0.1'));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { token: unknown }).token).toEqual(expect.any(String));
  });

  it('is refused when the runtime listens on every address, whatever Host and Origin say', async () => {
    const res = await signIn(await consoleListeningAs('0.0.0.0'));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: unknown }).message).toBe('Local sign-in is offered only when the runtime listens on a loopback address (HOST=127.0.0.1, the default), not on 0.0.0.0: anyone who can reach the port could sign in as admin. Use a token from npm run token there.');
  });
});
