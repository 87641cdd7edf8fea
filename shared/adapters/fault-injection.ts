import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/**
 * Fault injection for resilience tests: fails chosen AWS commands (S3, DynamoDB, Step
 * Functions, EventBridge), as the services do under throttling or an outage, before they
 * leave the SDK. Attached only where SKYGLASS_FAULTS_FILE is set (the local runtime sets it;
 * no deployed function has it). The file holds a list of rules such as
 * `[{"command": "DeleteObject", "key": "images/<id>/", "times": 2, "error": "SlowDown"}]`.
 * `key` is a prefix of what the command is about (see faultKeyOf: an object key, or an image
 * id), so concurrent tests do not disturb each other; `imageStatus` narrows a PutItem rule to
 * writes that store the image in that status (and to the transaction that writes the image
 * together with its quota usage: that is the image's PutItem too); `times` -1 applies to every call. Each use
 * counts down `times` and writes the file back.
 *
 * Instead of failing, a rule may
 * - `hold` the call until the rule is removed from the file, then let it through: a test can
 *   act while the side effect is in flight (the rule's `times` reaching 0 says it is held);
 * - `crash`: the call never returns and never reaches the service, so nothing after it in
 *   that handler runs, as if the handler's process had died just before the call;
 * - `kill` the whole process (SIGKILL) right there, emulators and workflows included: the
 *   crash suite (test/crash) then starts the runtime again on the same data.
 */
interface FaultRule {
  command: string;
  key?: string;
  imageStatus?: string;
  times: number;
  error?: string;
  /** The HTTP status of the injected error (default 503). */
  status?: number;
  hold?: boolean;
  crash?: boolean;
  kill?: boolean;
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

const HOLD_POLL_MS = 20;

export function attachFaultInjection(client: object, file: string): void {
  (client as SdkClient).middlewareStack.add(
    (next, context) => async (args) => {
      const { command, input } = imageWriteOf(String(context.commandName ?? '').replace(/Command$/, ''), args.input as Record<string, unknown>);
      const rule = takeFault(file, command, faultKeyOf(input), statusOf(input));
      if (rule?.kill) {
        // The marker tells the test where the process died; then die with no clean-up at all.
        writeFileSync(`${file}.killed`, JSON.stringify({ command, rule, pid: process.pid }));
        process.kill(process.pid, 'SIGKILL');
      }
      if (rule?.crash || rule?.kill) return new Promise<never>(() => undefined);
      if (rule?.hold) {
        while (stillHeld(file, rule)) await new Promise((resolve) => setTimeout(resolve, HOLD_POLL_MS));
        return next(args);
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

/**
 * A write that changes quota usage puts the image inside a TransactWriteItems: rules about
 * the image's PutItem apply to it as they would to the PutItem alone. Likewise a membership's
 * copies whose share-tag items change are its UpdateItem in a transaction with their Puts.
 */
function imageWriteOf(command: string, input: Record<string, unknown>): { command: string; input: Record<string, unknown> } {
  if (command !== 'TransactWriteItems' || !Array.isArray(input.TransactItems)) return { command, input };
  const first = (input.TransactItems as Array<{ Put?: Record<string, unknown>; Update?: Record<string, unknown> }>)[0];
  if (first?.Put) return { command: 'PutItem', input: first.Put };
  return first?.Update ? { command: 'UpdateItem', input: first.Update } : { command, input };
}

function readRules(file: string): FaultRule[] {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as FaultRule[];
  } catch {
    return [];
  }
}

function takeFault(file: string, command: string, key: string, status: string | undefined): FaultRule | undefined {
  const rules = readRules(file);
  const index = rules.findIndex(
    (r) => r.command === command && r.times !== 0 && key.startsWith(r.key ?? '') && (r.imageStatus === undefined || r.imageStatus === status),
  );
  const rule = rules[index];
  if (!rule) return undefined;
  if (rule.times > 0) {
    rules[index] = { ...rule, times: rule.times - 1 };
    // Whole or not at all: the tests read the file while the runtime counts rules down.
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(rules));
    renameSync(partial, file);
  }
  return rule;
}

/** A held call waits while a hold rule for the same command and key is in the file. */
function stillHeld(file: string, held: FaultRule): boolean {
  return readRules(file).some((r) => r.hold && r.command === held.command && r.key === held.key);
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
 * of a Step Functions execution (its input, or the id inside its name), or of the first event
 * of a PutEvents.
 */
function faultKeyOf(input: Record<string, unknown>): string {
  if (typeof input.Key === 'string') return input.Key;
  const item = (input.Item ?? input.Key) as Record<string, unknown> | undefined;
  const itemId = attribute(item?.id) ?? attribute(item?.pk)?.replace(/^IMAGE#/, '');
  if (itemId) return itemId;
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

/** The status a PutItem stores the image in. */
function statusOf(input: Record<string, unknown>): string | undefined {
  return attribute((input.Item as Record<string, unknown> | undefined)?.status);
}
