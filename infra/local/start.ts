import { dataDir } from './data-dir.js';
import { startLocalRuntime } from './server.js';

const port = Number(process.env.PORT ?? 9292);
const dir = dataDir();
console.log(`Starting Skyglass locally (data in ${dir}) ...`);
const runtime = await startLocalRuntime({ port, dataDir: dir, host: process.env.HOST ?? '127.0.0.1' });
console.log(`Skyglass (Glance Images API v2) is listening on ${runtime.url}
Get a token:   export TOKEN=$(npm run -s token -- --project demo --roles member)
Try it:        curl -s -H "X-Auth-Token: $TOKEN" ${runtime.url}/v2/images
Press Ctrl-C to stop.`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping ...`);
  await runtime.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
