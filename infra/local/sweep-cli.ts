import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dataDir } from './data-dir.js';

/**
 * `npm run sweep`: runs the scheduled sweepers once against a running `npm start` (the same
 * worker the stack schedules), and prints their report.
 */
const usage = 'usage: npm run -s sweep -- [--jobs uploads,stuck,audit] [--as-of <ISO time>] [--image <id>]...';
const { values } = parseArgs({ options: { jobs: { type: 'string' }, 'as-of': { type: 'string' }, image: { type: 'string', multiple: true } } });
let environment: Record<string, string>;
try {
  environment = JSON.parse(readFileSync(join(dataDir(), 'runtime.json'), 'utf8')).environment;
} catch {
  process.stderr.write(`No running local runtime found in ${dataDir()}: start it with npm start first.\n${usage}\n`);
  process.exit(2);
}
Object.assign(process.env, environment);
const { handler } = await import('../../functions/workers/sweep.js');
const { runAsFunction } = await import('../../shared/adapters/aws-call-log.js');
// As the sweep function's invocation: with SKYGLASS_AWS_CALL_LOG set (tests), its calls are
// checked against the sweep function's IAM like every other function's.
const report = await runAsFunction('sweep', () =>
  handler({
    jobs: values.jobs?.split(',').map((j) => j.trim()) as never,
    as_of: values['as-of'],
    image_ids: values.image,
  }),
);
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
