import { parseArgs } from 'node:util';
import { dataDir } from './data-dir.js';
import { mintToken } from './dev-key.js';

const usage = 'usage: npm run -s token -- --project <id> [--user <id>] [--roles admin,member,reader] [--ttl seconds]';
try {
  const { values } = parseArgs({
    options: {
      project: { type: 'string' },
      user: { type: 'string' },
      roles: { type: 'string', default: 'member,reader' },
      ttl: { type: 'string' },
    },
  });
  if (!values.project) throw new Error('--project is required');
  const token = await mintToken(dataDir(), {
    project: values.project,
    user: values.user,
    roles: values.roles.split(',').map((r) => r.trim()).filter(Boolean),
    ttl: values.ttl ? Number(values.ttl) : undefined,
  });
  process.stdout.write(`${token}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${usage}\n`);
  process.exit(2);
}
