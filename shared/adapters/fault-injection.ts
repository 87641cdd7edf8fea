import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Fault injection for resilience tests: fails chosen AWS commands, as the services do under
 * throttling or an outage, before they leave the SDK; or kills the whole process right there,
 * as a Lambda dies between a write and the side effect that follows it. Attached only where
 * SKYGLASS_FAULTS_FILE is set (the local runtime sets it; no deployed function has it). The
 * file holds a list of rules such as
 * `[{"command": "DeleteObject", "key": "images/<id>/", "times": 2, "error": "SlowDown"}]`
 * or `[{"command": "StartExecution", "key": "<image id>", "times": 1, "crash": true}]`.
 * `key` is a prefix of what the command is about (see faultKeyOf), so concurrent tests do not
 * disturb each other; `imageStatus` narrows a PutItem rule to writes of an image in that status;
 * `times` -1 fails every call. Each hit counts down `times` and writes the file back.
 */
interface FaultRule {
  command: string;
  key?: string;
  /** With PutItem: only writes that store the image in this status. */
  imageStatus?: string;
  times: number;
  error?: string;
  /** The HTTP status of the injected error (default 503). */
  status?: number;
  /** Kill this process (SIGKILL) instead of failing the call: nothing after this point runs. */
  crash?: boolean;
}

/** Any AWS SDK v3 client: they all take the same initialize-step middleware. */
interface SdkClient {
  middlewareStack: {
    add(
      middleware: (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) => (args: { input: unknown }) => Promise<unknown>,
      options: { step: 'initialize'; name: string },
    ): void;
  };
}

export function attachFaultInjection(client: object, file: string): void {
  (client as SdkClient).middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? '').replace(/Command$/, '');
      const input = args.input as Record<string, unknown>;
      const rule = takeFault(file, command, faultKeyOf(input), statusOf(input));
      if (rule?.crash) {
        // The marker tells the test where the process died; then die with no clean-up at all.
        writeFileSync(`${file}.crashed`, JSON.stringify({ command, rule, pid: process.pid }));
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => undefined);
      }
      if (rule) {
        throw Object.assign(new Error(`injected fault: ${rule.error ?? 'ServiceUnavailable'} on ${command}`), {
          name: rule.error ?? 'ServiceUnavailable',
          $fault: 'server',
          $metadata: { httpStatusCode: rule.status ?? 503 },
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'skyglassFaultInjection' },
  );
}

function takeFault(file: string, command: string, key: string, status: string | undefined): FaultRule | undefined {
  let rules: FaultRule[];
  try {
    rules = JSON.parse(readFileSync(file, 'utf8')) as FaultRule[];
  } catch {
    return undefined;
  }
  const index = rules.findIndex(
    (r) => r.command === command && r.times !== 0 && key.startsWith(r.key ?? '') && (r.imageStatus === undefined || r.imageStatus === status),
  );
  const rule = rules[index];
  if (!rule) return undefined;
  if (rule.times > 0) {
    rules[index] = { ...rule, times: rule.times - 1 };
    writeFileSync(file, JSON.stringify(rules));
  }
  return rule;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** A DynamoDB attribute, before or after the document client marshalled it. */
function attribute(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const s = (value as { S?: unknown } | undefined)?.S;
  return typeof s === 'string' ? s : undefined;
}

/**
 * What a rule's `key` is matched against: an S3 object key; the image id of a DynamoDB item,
 * of a Step Functions execution's input or name, or of the first event of a PutEvents.
 */
function faultKeyOf(input: Record<string, unknown>): string {
  if (typeof input.Key === 'string') return input.Key;
  const item = (input.Item ?? input.Key) as Record<string, unknown> | undefined;
  const itemId = attribute(item?.id) ?? attribute(item?.pk)?.replace(/^IMAGE#/, '');
  if (itemId) return itemId;
  if (typeof input.input === 'string') return jsonId(input.input, 'image_id');
  if (typeof input.executionArn === 'string') return UUID.exec(input.executionArn)?.[0] ?? '';
  const [first] = Array.isArray(input.Entries) ? (input.Entries as Array<{ Detail?: string }>) : [];
  if (typeof first?.Detail === 'string') return jsonId(first.Detail, 'id');
  return '';
}

function statusOf(input: Record<string, unknown>): string | undefined {
  return attribute((input.Item as Record<string, unknown> | undefined)?.status);
}

function jsonId(text: string, field: string): string {
  try {
    return String((JSON.parse(text) as Record<string, unknown>)[field] ?? '');
  } catch {
    return '';
  }
}
