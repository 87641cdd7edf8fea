import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync } from 'node:fs';

/**
 * Test instrumentation: records which AWS calls each function makes, so a test can check every
 * one against the IAM the stack grants that function (test/iam). Attached only where
 * SKYGLASS_AWS_CALL_LOG names a file (the test runs set it; no deployed function has it).
 *
 * The local runtime runs every handler in one process, so the function a call belongs to is
 * not its client (clients are shared) but the invocation it happens in: whoever invokes a
 * handler does so inside `runAsFunction(name, ...)`, and the call's async context says which.
 * A call outside any invocation is recorded with `fn: null`, so the check can refuse it
 * rather than let it pass unchecked.
 */

/** The IAM service prefix of a client's calls. */
export type AwsService = 'dynamodb' | 's3' | 'states' | 'events';

/** One distinct call: who made it, what, and the request fields IAM decides on. */
export interface AwsCallRecord {
  kind: 'call';
  /** operationId or worker name (`authorizer`, `fallback` for those two); null outside any invocation. */
  fn: string | null;
  service: AwsService;
  /** SDK command name without `Command`: `Query`, `UploadPart`, `StartExecution`, ... */
  command: string;
  /** Only the fields that name what is acted on (table, index, bucket, key, state machine, bus, ...). */
  params: Record<string, unknown>;
}

/** The environment the recording process's functions ran with: what the stack's resources are called here. */
export interface AwsCallEnvironment {
  kind: 'environment';
  environment: Record<string, string>;
}

export type AwsCallLogLine = AwsCallRecord | AwsCallEnvironment;

/** The variables by which the stack tells functions its resources' names (infra/constructs/skyglass-function.ts). */
/** STORES (the stores' buckets, where configured) lets the check synthesize a stack with the same stores. */
export const RESOURCE_VARIABLES = ['TABLE_NAME', 'BUCKET_NAME', 'STORES', 'VERIFIER_STATE_MACHINE_ARN', 'SCRUBBER_STATE_MACHINE_ARN', 'EVENT_BUS_NAME', 'AWS_REGION'] as const;

interface State {
  invocation: AsyncLocalStorage<string>;
  written: Set<string>;
}

// On globalThis, so every copy of this module in a process (a test and the handlers it loads) shares one state.
const STATE = Symbol.for('skyglass.awsCallLog');

function state(): State {
  const g = globalThis as { [STATE]?: State };
  return (g[STATE] ??= { invocation: new AsyncLocalStorage<string>(), written: new Set() });
}

/** Runs one invocation of a function: every AWS call made within it (awaited or not) is that function's. */
export function runAsFunction<T>(name: string, invoke: () => T): T {
  return state().invocation.run(name, invoke);
}

/** The function whose invocation the caller is in (runAsFunction), if any. */
export function currentFunction(): string | undefined {
  return state().invocation.getStore();
}

/** Fields that identify what a request acts on, across the services the product calls. */
const IDENTIFYING_FIELDS = ['TableName', 'IndexName', 'StreamArn', 'Bucket', 'Key', 'Prefix', 'CopySource', 'stateMachineArn', 'executionArn'] as const;

/** The table's partition key attribute (shared/adapters/table-design.ts TABLE_KEYS). */
const PARTITION_KEY = 'pk';

/**
 * A partition key value as IAM's `dynamodb:LeadingKeys` sees it, cut after its first `#` (the
 * key's kind: `IMAGE#`, `METADEF#`, `PROJECT#`; a key without `#`, like `METADEFS`, whole): the
 * stack conditions grants on key prefixes no longer than that, and the log keeps one line per
 * kind of call rather than one per item. Plain (DocumentClient) or marshalled (`{S}`) values.
 */
function keyKind(value: unknown): string | undefined {
  const text = typeof value === 'string' ? value : typeof (value as { S?: unknown } | undefined)?.S === 'string' ? (value as { S: string }).S : undefined;
  if (text === undefined) return undefined;
  const hash = text.indexOf('#');
  return hash < 0 ? text : text.slice(0, hash + 1);
}

/** The partition keys one request (or one transaction item) acts on, by kind; undefined where none could be read. */
function leadingKeys(input: Record<string, unknown>): string[] | undefined {
  const keys = new Set<string>();
  const add = (item: unknown) => {
    const kind = keyKind((item as Record<string, unknown> | undefined)?.[PARTITION_KEY]);
    if (kind !== undefined) keys.add(kind);
  };
  add(input.Key);
  add(input.Item);
  if (typeof input.KeyConditionExpression === 'string' && typeof input.IndexName !== 'string') {
    // `<name> = <:value>` where the name is the partition key (itself or through ExpressionAttributeNames).
    const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
    for (const [, name, placeholder] of input.KeyConditionExpression.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
      if ((names[name!] ?? name) === PARTITION_KEY) {
        const kind = keyKind(values[placeholder!]);
        if (kind !== undefined) keys.add(kind);
      }
    }
  }
  if (input.RequestItems && typeof input.RequestItems === 'object') {
    for (const requests of Object.values(input.RequestItems as Record<string, unknown>)) {
      if (Array.isArray(requests)) {
        for (const r of requests as Array<{ PutRequest?: { Item?: unknown }; DeleteRequest?: { Key?: unknown } }>) {
          add(r.PutRequest?.Item);
          add(r.DeleteRequest?.Key);
        }
      } else for (const key of ((requests as { Keys?: unknown[] }).Keys ?? [])) add(key);
    }
  }
  return keys.size > 0 ? [...keys].sort() : undefined;
}

function identifyingParams(input: Record<string, unknown>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const field of IDENTIFYING_FIELDS) if (typeof input[field] === 'string') params[field] = input[field];
  const leading = typeof input.TableName === 'string' || input.RequestItems ? leadingKeys(input) : undefined;
  if (leading) params.LeadingKeys = leading;
  // PutEvents: the bus of each entry; batch and transaction calls: the table (and kind) of each item.
  if (Array.isArray(input.Entries)) params.EventBusNames = (input.Entries as Array<{ EventBusName?: string }>).map((e) => e.EventBusName ?? 'default');
  if (input.RequestItems && typeof input.RequestItems === 'object') params.Tables = Object.keys(input.RequestItems);
  if (Array.isArray(input.TransactItems)) {
    params.TransactItems = (input.TransactItems as Array<Record<string, { TableName?: string }>>).map((item) => {
      const [op, body] = Object.entries(item)[0] ?? ['', {}];
      const leading = body ? leadingKeys(body as Record<string, unknown>) : undefined;
      return { op, TableName: body?.TableName, ...(leading && { LeadingKeys: leading }) };
    });
  }
  return params;
}

function write(file: string, line: AwsCallLogLine): void {
  const text = JSON.stringify(line);
  const { written } = state();
  if (written.has(text)) return;
  written.add(text);
  appendFileSync(file, `${text}\n`);
}

/** The smithy middleware stack every SDK v3 client has; typed loosely so any client fits. */
interface ClientWithMiddleware {
  middlewareStack: {
    add(
      middleware: (next: (args: { input: object }) => Promise<unknown>, context: { commandName?: string }) => (args: { input: object }) => Promise<unknown>,
      options: { step: 'initialize'; name: string; override: boolean },
    ): void;
  };
}

/**
 * Records every call the client makes (presigning included: the presigner runs the client's
 * middleware, and a presigned URL performs the call it was signed for) before it leaves the
 * SDK, so a call refused or failed by fault injection is recorded too. `fixed` adds fields the
 * requests themselves do not carry (a stream reader's StreamArn).
 */
export function attachAwsCallLog(client: object, service: AwsService, file: string, fixed: Record<string, string> = {}): void {
  const environment: Record<string, string> = {};
  (client as ClientWithMiddleware).middlewareStack.add(
    (next, context) => async (args) => {
      if (Object.keys(environment).length === 0) {
        for (const name of RESOURCE_VARIABLES) if (process.env[name]) environment[name] = process.env[name] as string;
        write(file, { kind: 'environment', environment });
      }
      write(file, {
        kind: 'call',
        fn: state().invocation.getStore() ?? null,
        service,
        command: (context.commandName ?? 'Unknown').replace(/Command$/, ''),
        params: { ...identifyingParams(args.input as Record<string, unknown>), ...fixed },
      });
      return next(args);
    },
    { step: 'initialize', name: 'skyglassAwsCallLog', override: true },
  );
}
