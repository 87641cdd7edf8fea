import { readFileSync, writeFileSync } from 'node:fs';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { S3Client } from '@aws-sdk/client-s3';

/**
 * Fault injection for resilience tests: fails chosen S3 or EventBridge commands, as the
 * services do under throttling or an outage, before they leave the SDK. Attached only where
 * SKYGLASS_FAULTS_FILE is set (the local runtime sets it; no deployed function has it). The
 * file holds a list of rules such as
 * `[{"command": "DeleteObject", "key": "images/<id>/", "times": 2, "error": "SlowDown"}]`
 * (`key` a prefix of the object key, or for PutEvents of the first event's image id, so
 * concurrent tests do not disturb each other; `times` -1: fail every call); each failure counts
 * down `times` and writes the file back.
 */
interface FaultRule {
  command: string;
  key?: string;
  times: number;
  error?: string;
  status?: number;
}

export function attachFaultInjection(client: S3Client | EventBridgeClient, file: string): void {
  // Both stacks take the same initialize-step middleware; S3's typing stands for either.
  (client.middlewareStack as S3Client['middlewareStack']).add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? '').replace(/Command$/, '');
      const key = faultKeyOf(args.input as Record<string, unknown>);
      const rule = takeFault(file, command, key);
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

function takeFault(file: string, command: string, key: string): FaultRule | undefined {
  let rules: FaultRule[];
  try {
    rules = JSON.parse(readFileSync(file, 'utf8')) as FaultRule[];
  } catch {
    return undefined;
  }
  const index = rules.findIndex((r) => r.command === command && r.times !== 0 && key.startsWith(r.key ?? ''));
  const rule = rules[index];
  if (!rule) return undefined;
  if (rule.times > 0) {
    rules[index] = { ...rule, times: rule.times - 1 };
    writeFileSync(file, JSON.stringify(rules));
  }
  return rule;
}

/** What a rule's `key` is matched against: an S3 object key, or the image id of an event. */
function faultKeyOf(input: Record<string, unknown>): string {
  if (typeof input.Key === 'string') return input.Key;
  const [first] = Array.isArray(input.Entries) ? (input.Entries as Array<{ Detail?: string }>) : [];
  if (typeof first?.Detail === 'string') {
    try {
      return String((JSON.parse(first.Detail) as { id?: unknown }).id ?? '');
    } catch {
      return '';
    }
  }
  return '';
}
