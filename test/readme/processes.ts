import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const CHECKOUT = join(import.meta.dirname, '..', '..');

/** The environment a person's shell would have: none of the test runner's own variables. */
export function userEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('VITEST') || name === 'NODE_ENV' || name === 'NODE_OPTIONS' || name === 'TEST') continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/** Starts a command as the leader of its own process group, so everything it starts can be stopped with it. */
export function spawnGroup(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): ChildProcess {
  return spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** SIGTERM to the group (as Ctrl-C would reach them all), then SIGKILL to whatever is left after 20 s. */
export async function stopGroup(leader: ChildProcess): Promise<void> {
  const pgid = leader.pid;
  if (!pgid) return;
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-pgid, 'SIGTERM');
  for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(-pgid, 'SIGKILL');
}

/** Resolves with everything the process printed once `pattern` appears in it; rejects if it exits first. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${pattern}:\n${output}`));
    });
  });
}
