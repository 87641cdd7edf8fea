import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseArgs } from 'node:util';
import { backfillListKeys, backfillStatusIndex, recordListKeys } from './dynamodb.js';

/**
 * `npm run rewrite-list-keys -- --table <name>`: the one-off rewrite a deployed stack needs
 * after an update that changed the list index keys (issue #11: `nameSk`, the sharded `allPk` /
 * `visPk`, `allNamePk` / `visNamePk`; hidden images on their own partitions) or added byStatus. It gives every image and usage counter
 * the index attributes its next write would give it, each a conditional update on the version
 * read, so concurrent writes win. Run it with operator credentials (the default AWS credential
 * chain, AWS_REGION) right after the deploy: until then, images written before it are missing
 * from the lists whose keys changed. `npm start` does the same to an older DATA_DIR by itself.
 * `--endpoint` points it at another DynamoDB (DynamoDB Local, LocalStack).
 */
const usage = 'usage: npm run -s rewrite-list-keys -- --table <table name> [--endpoint <url>]';
const { values } = parseArgs({ options: { table: { type: 'string' }, endpoint: { type: 'string' } } });
if (!values.table) {
  process.stderr.write(`${usage}\n`);
  process.exit(2);
}
const client = new DynamoDBClient(values.endpoint ? { endpoint: values.endpoint } : {});
try {
  await backfillListKeys(client, values.table);
  await backfillStatusIndex(client, values.table);
  await recordListKeys(client, values.table);
  process.stdout.write(`rewrote the list index attributes of ${values.table}\n`);
} finally {
  client.destroy();
}
