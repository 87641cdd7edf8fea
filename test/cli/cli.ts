import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
import { apiUrl } from '../api/client.js';

/**
 * The built `skyglass` bundle run as a user runs it: a separate process, its endpoint and token
 * from OS_IMAGE_URL / OS_AUTH_TOKEN, its upload state in a folder of the test file's own.
 */
export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'skyglass-cli-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A folder for this file's image files and downloads. */
export const workDir = () => scratch;

function env(token: string | null, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^OS_/.test(k)));
  return { ...clean, OS_IMAGE_URL: apiUrl(), ...(token ? { OS_AUTH_TOKEN: token } : {}), SKYGLASS_STATE_DIR: join(scratch, 'state'), ...extra };
}

export function start(token: string | null, args: string[], extra: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [inject('cliBundle'), ...args], { env: env(token, extra), cwd: scratch });
}

/**
 * The CLI with its stdout piped into a shell `consumer` (`bash -c '<cli> | <consumer>'`), as a
 * user runs `skyglass image-download ID | ...`: the pipe is the kernel's, not one Node reads for
 * us. With pipefail, the exit code is the CLI's when it fails (else the consumer's).
 */
export function startPiped(token: string | null, args: string[], consumer: string): ChildProcessWithoutNullStreams {
  return spawn('bash', ['-o', 'pipefail', '-c', `"$0" "$@" | ${consumer}`, process.execPath, inject('cliBundle'), ...args], { env: env(token), cwd: scratch });
}

/** Waits for the process to end (killing it after `timeoutMs`, which then fails the test). */
export function finished(child: ChildProcessWithoutNullStreams, timeoutMs = 90_000): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`skyglass ${child.spawnargs.slice(2).join(' ')} still running after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export const skyglass = (token: string | null, ...args: string[]) => finished(start(token, args));
export const skyglassEnv = (extra: NodeJS.ProcessEnv, token: string | null, ...args: string[]) => finished(start(token, args, extra));

/** Resolves once the process's stderr has printed a line matching `pattern`. */
export function stderrLine(child: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line) {
        child.stderr.off('data', onData);
        resolve(line);
      }
    };
    child.stderr.on('data', onData);
    child.on('close', () => reject(new Error(`skyglass ended before printing ${pattern}:\n${seen}`)));
  });
}

/** The Property/Value table's rows as an object (a wrapped value joined back). */
export function parseTable(out: string): Record<string, string> {
  const rows: Record<string, string> = {};
  let last = '';
  for (const line of out.split('\n')) {
    const m = /^\| (.*?) +\| (.*?) *\|$/.exec(line);
    if (!m || m[1] === 'Property') continue;
    if (m[1]) rows[(last = m[1])] = m[2]!;
    else if (last) rows[last] += m[2]!;
  }
  return rows;
}
