import { createHash, randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoImageRepository } from '../../shared/adapters/dynamo-image-repository.js';

/**
 * Moves a queued image to active as an upload would (size and hashes of 1 KiB of random
 * data), through the repository's conditional write. Until image data uploads exist this is
 * the only way to reach `active`, which deactivate/reactivate need.
 */
export async function seedActive(endpoint: string, tableName: string, id: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const repo = new DynamoImageRepository(client, { tableName });
    const current = await repo.get(id);
    if (!current) throw new Error(`no image ${id}`);
    const data = randomBytes(1024);
    await repo.save(
      {
        ...current,
        status: 'active',
        size: data.length,
        virtual_size: data.length,
        checksum: createHash('md5').update(data).digest('hex'),
        os_hash_algo: 'sha512',
        os_hash_value: createHash('sha512').update(data).digest('hex'),
        version: current.version + 1,
      },
      current,
    );
  } finally {
    client.destroy();
  }
}
