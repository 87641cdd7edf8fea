import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { DescribeTableCommand, UpdateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as StreamRecord,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { attachAwsCallLog, runAsFunction } from '../../shared/adapters/aws-call-log.js';
import { STREAM_VIEW } from '../../shared/adapters/table-design.js';

/**
 * The local stand-in for Lambda's DynamoDB stream event source mapping: it reads the table's
 * stream in DynamoDB Local and hands the records, shaped as Lambda's DynamoDBStreamEvent, to
 * the same handler the stack subscribes (the outbox relay). As the stack's mapping does, it
 * retries from the first failed record (ReportBatchItemFailures), keeps each shard in order, and
 * keeps where it has delivered each shard to (`positionFile`, in the DATA_DIR), so a runtime
 * killed between a write and the delivery of its record delivers it when it starts again, as
 * the mapping's checkpoint does for a function that died.
 */
export interface LocalTableStream {
  stop(): Promise<void>;
}

export interface LocalTableStreamOptions {
  client: DynamoDBClient;
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  tableName: string;
  deliver: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;
  /** Wait between retries of a failed batch. */
  retryMs: number;
  /** Wait between reads when the stream has nothing new. */
  pollMs?: number;
  /**
   * The function this mapping invokes. In AWS the mapping reads the stream with that function's
   * role, so its stream reads are recorded as that function's calls (test/iam checks them).
   */
  consumer?: string;
  /**
   * Where the delivered position of each shard is kept across restarts. Without it (an
   * in-memory table) the stream is read from the latest record at start.
   */
  positionFile?: string;
  /** The table was made by this start: its stream holds nothing delivered before, so no history to skip. */
  newTable?: boolean;
}

/**
 * How far each shard has been delivered: after a sequence number; from its first record
 * (`start`: a shard that appeared while the runtime ran, or a new table's); from the latest
 * record at the first start of an older DATA_DIR, before anything was delivered there (`latest`);
 * or read to its end (`finished`).
 */
type ShardPosition = { after: string } | 'start' | 'latest' | 'finished';
interface StreamPositions {
  streamArn: string;
  shards: Record<string, ShardPosition>;
}

const BATCH = 100;
const DESCRIBE_EVERY_MS = 1000;

/** Turns the stream on for a table created before it had one (an older DATA_DIR). */
export async function ensureTableStream(client: DynamoDBClient, tableName: string): Promise<string> {
  let table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  if (!table?.StreamSpecification?.StreamEnabled) {
    await client.send(new UpdateTableCommand({ TableName: tableName, StreamSpecification: { StreamEnabled: true, StreamViewType: STREAM_VIEW } }));
    table = (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  }
  if (!table?.LatestStreamArn) throw new Error(`table ${tableName} has no stream`);
  return table.LatestStreamArn;
}

export async function startLocalTableStream(options: LocalTableStreamOptions): Promise<LocalTableStream> {
  const streamArn = await ensureTableStream(options.client, options.tableName);
  const streams = new DynamoDBStreamsClient({ endpoint: options.endpoint, region: options.region, credentials: options.credentials, maxAttempts: 1 });
  if (process.env.SKYGLASS_AWS_CALL_LOG) attachAwsCallLog(streams, 'dynamodb', process.env.SKYGLASS_AWS_CALL_LOG, { StreamArn: streamArn });
  const asConsumer = <T>(run: () => T): T => (options.consumer ? runAsFunction(options.consumer, run) : run());
  const pollMs = options.pollMs ?? 50;
  /** Open shards and where to read them next; a shard seen for the first time after start is read from its start. */
  const iterators = new Map<string, string>();
  const finished = new Set<string>();
  let running = true;
  let lastDescribe = 0;
  const saved = readPositions(options.positionFile, streamArn);
  const positions: StreamPositions = saved ?? { streamArn, shards: {} };
  const remember = (shardId: string, position: ShardPosition) => {
    positions.shards[shardId] = position;
    if (options.positionFile) writePositions(options.positionFile, positions);
  };

  const iterator = async (shardId: string, type: ShardIteratorType, sequenceNumber?: string) =>
    (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: type, SequenceNumber: sequenceNumber }))).ShardIterator;

  /** An iterator at a kept position; past the stream's 24 hours, its oldest record. */
  const iteratorAt = async (shardId: string, position: Exclude<ShardPosition, 'finished'>) => {
    if (position === 'start') return iterator(shardId, 'TRIM_HORIZON');
    if (position === 'latest') return iterator(shardId, 'LATEST');
    try {
      return await iterator(shardId, 'AFTER_SEQUENCE_NUMBER', position.after);
    } catch (error) {
      if (error instanceof TrimmedDataAccessException) return iterator(shardId, 'TRIM_HORIZON');
      throw error;
    }
  };

  const discover = async (initial: boolean) => {
    lastDescribe = Date.now();
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription?.Shards ?? [];
    for (const shard of shards) {
      const id = shard.ShardId;
      if (!id || iterators.has(id) || finished.has(id)) continue;
      let position = positions.shards[id];
      if (position === undefined) {
        const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
        // The first start of an older DATA_DIR (no positions kept yet, on a table made before):
        // what was written before is history, delivered by the runtime that wrote it. Otherwise
        // a shard not seen before appeared since (while the runtime ran or was down): read it all.
        const history = initial && !saved && !options.newTable;
        position = history ? (closed ? 'finished' : 'latest') : 'start';
        remember(id, position);
      }
      if (position === 'finished') {
        finished.add(id);
        continue;
      }
      const it = await iteratorAt(id, position);
      if (it) iterators.set(id, it);
    }
  };

  const finish = (shardId: string) => {
    iterators.delete(shardId);
    finished.add(shardId);
    remember(shardId, 'finished');
  };

  /** Reads one batch of a shard and delivers it; true if there was anything. */
  const readShard = async (shardId: string, it: string): Promise<boolean> => {
    const out = await streams.send(new GetRecordsCommand({ ShardIterator: it, Limit: BATCH }));
    const records = out.Records ?? [];
    if (records.length === 0) {
      if (out.NextShardIterator) iterators.set(shardId, out.NextShardIterator);
      else finish(shardId);
      return false;
    }
    let retryFrom: string | undefined;
    try {
      const response = await options.deliver({ Records: records.map((r) => lambdaRecord(r, streamArn, options.region)) });
      retryFrom = response?.batchItemFailures?.[0]?.itemIdentifier;
    } catch (error) {
      console.error('local stream: the relay failed on a batch; retrying it', error);
      retryFrom = records[0]?.dynamodb?.SequenceNumber;
    }
    // Delivered: the records before the first failed one (all of them when none failed).
    const failedAt = retryFrom === undefined ? records.length : records.findIndex((r) => r.dynamodb?.SequenceNumber === retryFrom);
    const delivered = records[failedAt - 1]?.dynamodb?.SequenceNumber;
    if (delivered !== undefined) remember(shardId, { after: delivered });
    if (retryFrom !== undefined) {
      await sleep(options.retryMs);
      const again = await iterator(shardId, 'AT_SEQUENCE_NUMBER', retryFrom);
      if (again) iterators.set(shardId, again);
    } else if (out.NextShardIterator) {
      iterators.set(shardId, out.NextShardIterator);
    } else finish(shardId);
    return true;
  };

  await asConsumer(() => discover(true));
  const loop = asConsumer(async () => {
    while (running) {
      let busy = false;
      try {
        if (Date.now() - lastDescribe > DESCRIBE_EVERY_MS || iterators.size === 0) await discover(false);
        for (const [shardId, it] of [...iterators]) if (await readShard(shardId, it)) busy = true;
      } catch (error) {
        if (running) console.error('local stream: read failed; retrying', error);
        busy = true;
        await sleep(options.retryMs);
      }
      if (!busy) await sleep(pollMs);
    }
  });

  return {
    stop: async () => {
      running = false;
      await loop;
      streams.destroy();
    },
  };
}

/** The positions kept for this stream (a table whose stream was turned off and on has a new one). */
function readPositions(file: string | undefined, streamArn: string): StreamPositions | undefined {
  if (!file || !existsSync(file)) return undefined;
  try {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as StreamPositions;
    return kept.streamArn === streamArn ? kept : undefined;
  } catch {
    return undefined; // unreadable: as if none were kept
  }
}

/** Written whole and renamed into place, so a kill mid-write leaves the previous positions. */
function writePositions(file: string, positions: StreamPositions): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(positions));
  renameSync(`${file}.tmp`, file);
}

/** A GetRecords record as Lambda delivers it: wire-format attribute values, epoch-second times. */
function lambdaRecord(record: StreamRecord, streamArn: string, region: string): DynamoDBRecord {
  const change = record.dynamodb ?? {};
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: region,
    eventSourceARN: streamArn,
    dynamodb: {
      ApproximateCreationDateTime: change.ApproximateCreationDateTime ? Math.floor(change.ApproximateCreationDateTime.getTime() / 1000) : undefined,
      Keys: change.Keys as NonNullable<DynamoDBRecord['dynamodb']>['Keys'],
      NewImage: change.NewImage as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
      SequenceNumber: change.SequenceNumber,
      SizeBytes: change.SizeBytes,
      StreamViewType: change.StreamViewType,
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
