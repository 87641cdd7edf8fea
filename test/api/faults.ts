import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { apiUrl } from './client.js';

/**
 * Fault rules for the local runtime's S3, EventBridge and Step Functions clients
 * (shared/adapters/fault-injection.ts). `key` scopes a rule to one object key prefix or image
 * id, so tests running at the same time do not disturb each other.
 */
export interface FaultRule {
  command: string;
  key: string;
  times: number;
  error?: string;
  /** The call waits until the rule is removed (releaseFault), then goes through. */
  hold?: boolean;
  /** The call never returns and never reaches the service: the process "died" just before it. */
  crash?: boolean;
}

const faultsFile = () => join(inject('dataDir'), 'faults.json');
const readRules = (): FaultRule[] => (existsSync(faultsFile()) ? (JSON.parse(readFileSync(faultsFile(), 'utf8')) as FaultRule[]) : []);
/** Replaces the file whole (a rename), so the runtime, which reads it on every call, never sees half of it. */
function writeRules(rules: FaultRule[]): void {
  const partial = `${faultsFile()}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(rules));
  renameSync(partial, faultsFile());
}
const same = (a: FaultRule, b: Pick<FaultRule, 'command' | 'key'>) => a.command === b.command && a.key === b.key;

export function injectFault(rule: FaultRule): void {
  writeRules([...readRules(), rule]);
}

/** Removes the rule (a held call then goes through). */
export function releaseFault(rule: Pick<FaultRule, 'command' | 'key'>): void {
  writeRules(readRules().filter((r) => !same(r, rule)));
}

/** Resolves once the rule has been used up: a crashed or held call has reached it. */
export async function faultReached(rule: Pick<FaultRule, 'command' | 'key'>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (readRules().some((r) => same(r, rule) && r.times !== 0)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${rule.command} on ${rule.key}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Sends a request whose handler "dies" at a crash rule, and gives up on the answer once the
 * handler has reached it (as a client whose function timed out gets a 5xx from the gateway).
 */
export async function requestThatCrashes(path: string, init: { method: string; token: string; body?: string | Buffer; headers?: Record<string, string> }, rule: FaultRule): Promise<void> {
  injectFault({ ...rule, crash: true, times: 1 });
  const controller = new AbortController();
  const answer = fetch(`${apiUrl()}${path}`, {
    method: init.method,
    headers: { 'X-Auth-Token': init.token, Accept: 'application/json', ...init.headers },
    body: init.body,
    signal: controller.signal,
  }).then(
    (res) => ({ status: res.status }),
    () => undefined,
  );
  await Promise.race([faultReached(rule), answer.then((a) => Promise.reject(new Error(`the request answered ${a?.status} before reaching ${rule.command}`)))]);
  controller.abort();
  await answer;
  releaseFault(rule);
}
