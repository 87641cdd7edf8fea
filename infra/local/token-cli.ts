import { parseArgs } from 'node:util';
import { localToken, TokenRefusal } from './local-token.js';

/** `npm run -s token`: a token for the local runtime (infra/local/local-token.ts says which key signs it). */
const usage = 'usage: [DATA_DIR=<the service\'s data folder>] npm run -s token -- --project <id> [--user <id>] [--roles admin,member,reader] [--ttl seconds]';

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
  const { token, note } = await localToken({
    project: values.project,
    user: values.user,
    roles: values.roles.split(',').map((r) => r.trim()).filter(Boolean),
    ttl: values.ttl ? Number(values.ttl) : undefined,
    command: 'npm run -s token -- ...',
  });
  if (note) process.stderr.write(`${note}\n`);
  process.stdout.write(`${token}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${error instanceof TokenRefusal ? '' : `${usage}\n`}`);
  process.exit(2);
}
