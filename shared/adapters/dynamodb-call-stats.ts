import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { currentFunction } from './aws-call-log.js';

/**
 * Observability: counts the DynamoDB calls a client makes, per command, with the items each
 * call read and the capacity DynamoDB reports. `npm run bench` attaches it (through
 * SKYGLASS_DYNAMODB_STATS=1) to check the calls-per-operation budgets; nothing else does.
 *
 * One call is one `send()` (SDK retries of that call are not counted separately). A failed
 * call (e.g. a lost conditional write) still counts as a call, reading nothing.
 */
export interface DynamoDbCallRecord {
  /** SDK command name without the `Command` suffix, e.g. `GetItem`, `Query`, `PutItem`. */
  command: string;
  /** GetItem: 1 if an item came back; Query/Scan: `ScannedCount` (what DynamoDB read, before any filter). */
  itemsRead: number;
  /** `ConsumedCapacity.CapacityUnits` summed, when DynamoDB reported it. */
  capacityUnits: number | undefined;
  /** Error name, when the call failed. */
  error: string | undefined;
  /** The function whose invocation made the call (runAsFunction), if any. */
  fn?: string | undefined;
}

export interface DynamoDbCallSummary {
  calls: number;
  itemsRead: number;
  /** Undefined when no call reported consumed capacity. */
  capacityUnits: number | undefined;
  /** Calls per command name. */
  byCommand: Record<string, number>;
}

export class DynamoDbCallStats {
  private records: DynamoDbCallRecord[] = [];

  record(entry: DynamoDbCallRecord): void {
    this.records.push(entry);
  }

  reset(): void {
    this.records = [];
  }

  all(): readonly DynamoDbCallRecord[] {
    return this.records;
  }

  /**
   * Totals of the calls recorded since the last reset; with `fn`, only that function's (a local
   * runtime's stream consumer and sweepers share the process and its clients).
   */
  summary(fn?: string): DynamoDbCallSummary {
    const byCommand: Record<string, number> = {};
    let itemsRead = 0;
    let capacityUnits: number | undefined;
    const records = fn === undefined ? this.records : this.records.filter((r) => r.fn === fn);
    for (const r of records) {
      byCommand[r.command] = (byCommand[r.command] ?? 0) + 1;
      itemsRead += r.itemsRead;
      if (r.capacityUnits !== undefined) capacityUnits = (capacityUnits ?? 0) + r.capacityUnits;
    }
    return { calls: records.length, itemsRead, capacityUnits, byCommand };
  }
}

// Kept on globalThis so every copy of this module in the process (the bench and the handlers it
// loads) shares one store.
const STORE = Symbol.for('skyglass.dynamodbCallStats');

/** The process-wide store that `attachDynamoDbCallStats` records into by default. */
export function dynamoDbCallStats(): DynamoDbCallStats {
  const g = globalThis as { [STORE]?: DynamoDbCallStats };
  return (g[STORE] ??= new DynamoDbCallStats());
}

/** Commands that accept `ReturnConsumedCapacity`. */
const CAPACITY_COMMANDS = new Set([
  'GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan',
  'BatchGetItem', 'BatchWriteItem', 'TransactGetItems', 'TransactWriteItems',
]);

const MIDDLEWARE_NAME = 'skyglassDynamoDbCallStats';

/**
 * Adds the counting middleware to the client (and so to every DynamoDBDocumentClient built
 * from it, which shares its middleware stack). Asks for `ReturnConsumedCapacity: TOTAL` on
 * commands that support it and do not already ask; that changes only the response.
 */
export function attachDynamoDbCallStats(client: DynamoDBClient, stats: DynamoDbCallStats = dynamoDbCallStats()): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const input = args.input as Record<string, unknown>;
      const request = CAPACITY_COMMANDS.has(command) && input.ReturnConsumedCapacity === undefined
        ? { ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } }
        : args;
      try {
        const result = await next(request as typeof args);
        const output = result.output as unknown as Record<string, unknown>;
        stats.record({ command, itemsRead: itemsReadBy(command, output), capacityUnits: capacityOf(output.ConsumedCapacity), error: undefined, fn: currentFunction() });
        return result;
      } catch (error) {
        const consumed = (error as { ConsumedCapacity?: unknown }).ConsumedCapacity;
        stats.record({ command, itemsRead: 0, capacityUnits: capacityOf(consumed), error: (error as Error).name ?? 'Error', fn: currentFunction() });
        throw error;
      }
    },
    { step: 'initialize', name: MIDDLEWARE_NAME, override: true },
  );
}

function itemsReadBy(command: string, output: Record<string, unknown>): number {
  switch (command) {
    case 'GetItem':
      return output.Item ? 1 : 0;
    case 'Query':
    case 'Scan':
      return typeof output.ScannedCount === 'number' ? output.ScannedCount : 0;
    case 'BatchGetItem': {
      const responses = (output.Responses ?? {}) as Record<string, unknown[]>;
      return Object.values(responses).reduce((n, items) => n + items.length, 0);
    }
    case 'TransactGetItems':
      return ((output.Responses ?? []) as { Item?: unknown }[]).filter((r) => r.Item).length;
    default:
      return 0;
  }
}

function capacityOf(consumed: unknown): number | undefined {
  const list = Array.isArray(consumed) ? consumed : consumed ? [consumed] : [];
  let total: number | undefined;
  for (const c of list as { CapacityUnits?: number }[]) {
    if (typeof c.CapacityUnits === 'number') total = (total ?? 0) + c.CapacityUnits;
  }
  return total;
}
