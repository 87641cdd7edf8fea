import { DescribeTableCommand, UpdateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
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
 * retries from the first failed record (ReportBatchItemFailures) and keeps each shard in order.
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

  const iterator = async (shardId: string, type: ShardIteratorType, sequenceNumber?: string) =>
    (await streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: type, SequenceNumber: sequenceNumber }))).ShardIterator;

  const discover = async (initial: boolean) => {
    lastDescribe = Date.now();
    const shards = (await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription?.Shards ?? [];
    for (const shard of shards) {
      const id = shard.ShardId;
      if (!id || iterators.has(id) || finished.has(id)) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      // At start, what was written before is history (it was delivered then, or the runtime was
      // down and nothing wrote); shards that appear later are read from their first record.
      if (initial && closed) {
        finished.add(id);
        continue;
      }
      const it = await iterator(id, initial ? 'LATEST' : 'TRIM_HORIZON');
      if (it) iterators.set(id, it);
    }
  };

  /** Reads one batch of a shard and delivers it; true if there was anything. */
  const readShard = async (shardId: string, it: string): Promise<boolean> => {
    const out = await streams.send(new GetRecordsCommand({ ShardIterator: it, Limit: BATCH }));
    const records = out.Records ?? [];
    if (records.length === 0) {
      if (out.NextShardIterator) iterators.set(shardId, out.NextShardIterator);
      else {
        iterators.delete(shardId);
        finished.add(shardId);
      }
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
    if (retryFrom !== undefined) {
      await sleep(options.retryMs);
      const again = await iterator(shardId, 'AT_SEQUENCE_NUMBER', retryFrom);
      if (again) iterators.set(shardId, again);
    } else if (out.NextShardIterator) {
      iterators.set(shardId, out.NextShardIterator);
    } else {
      iterators.delete(shardId);
      finished.add(shardId);
    }
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
