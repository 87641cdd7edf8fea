import { readFileSync, writeFileSync } from 'node:fs';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';

/**
 * Fault injection for resilience tests: fails chosen S3, EventBridge or Step Functions
 * commands, as the services do under throttling or an outage, before they leave the SDK.
 * Attached only where SKYGLASS_FAULTS_FILE is set (the local runtime sets it; no deployed
 * function has it). The file holds a list of rules such as
 * `[{"command": "DeleteObject", "key": "images/<id>/", "times": 2, "error": "SlowDown"}]`
 * (`key` a prefix of the object key, or for PutEvents of the first event's image id, or for
 * Step Functions of the image id the execution is for, so concurrent tests do not disturb each
 * other; `times` -1: fail every call); each use counts down `times` and writes the file back.
 *
 * Instead of failing, a rule may
 * - `hold` the call until the rule is removed from the file, then let it through: a test can
 *   act while the side effect is in flight (the rule's `times` reaching 0 says it is held);
 * - `crash`: the call never returns and never reaches the service, so nothing after it in
 *   that handler runs, as if the process had died just before the call.
 */
interface FaultRule {
  command: string;
  key?: string;
  times: number;
  error?: string;
  status?: number;
  hold?: boolean;
  crash?: boolean;
}

const HOLD_POLL_MS = 20;

export function attachFaultInjection(client: S3Client | EventBridgeClient | SFNClient, file: string): void {
  // The stacks take the same initialize-step middleware; S3's typing stands for all of them.
  (client.middlewareStack as S3Client['middlewareStack']).add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? '').replace(/Command$/, '');
      const key = faultKeyOf(args.input as Record<string, unknown>);
      const rule = takeFault(file, command, key);
      if (rule?.crash) return new Promise<never>(() => undefined);
      if (rule?.hold) {
        while (stillHeld(file, rule)) await new Promise((resolve) => setTimeout(resolve, HOLD_POLL_MS));
        return next(args);
      }
      if (rule) {
        const error = Object.assign(new Error(`injected fault: ${rule.error ?? 'ServiceUnavailable'} on ${command}`), {
          name: rule.error ?? 'ServiceUnavailable',
          $fault: 'server',
          $metadata: { httpStatusCode: rule.status ?? 503 },
        });
        throw error;
      }
      return next(args);
    },
    { step: 'initialize', name: 'skyglassFaultInjection' },
  );
}

function readRules(file: string): FaultRule[] {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as FaultRule[];
  } catch {
    return [];
  }
}

function takeFault(file: string, command: string, key: string): FaultRule | undefined {
  const rules = readRules(file);
  const index = rules.findIndex((r) => r.command === command && r.times !== 0 && key.startsWith(r.key ?? ''));
  const rule = rules[index];
  if (!rule) return undefined;
  if (rule.times > 0) {
    rules[index] = { ...rule, times: rule.times - 1 };
    writeFileSync(file, JSON.stringify(rules));
  }
  return rule;
}

/** A held call waits while a hold rule for the same command and key is in the file. */
function stillHeld(file: string, held: FaultRule): boolean {
  return readRules(file).some((r) => r.hold && r.command === held.command && r.key === held.key);
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** What a rule's `key` is matched against: an S3 object key, or the image id of an event or execution. */
function faultKeyOf(input: Record<string, unknown>): string {
  if (typeof input.Key === 'string') return input.Key;
  const [first] = Array.isArray(input.Entries) ? (input.Entries as Array<{ Detail?: string }>) : [];
  const json = typeof first?.Detail === 'string' ? first.Detail : typeof input.input === 'string' ? input.input : undefined;
  if (json !== undefined) {
    try {
      const parsed = JSON.parse(json) as { id?: unknown; image_id?: unknown };
      return String(parsed.id ?? parsed.image_id ?? '');
    } catch {
      return '';
    }
  }
  // StopExecution, DescribeExecution: the image id inside the execution's name.
  if (typeof input.executionArn === 'string') return UUID.exec(input.executionArn)?.[0] ?? '';
  return '';
}
