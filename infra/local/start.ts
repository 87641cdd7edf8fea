import { announceRuntime, dataDir, dataDirChosen } from './data-dir.js';
import { ConfigurationError } from '../configuration-error.js';
import { startLocalRuntime } from './server.js';
import { consoleBuildStale, ensureConsoleBuilt } from './console-build.js';

// npm scripts run the Node 24 that `npm run setup` (npm ci) puts in node_modules/.bin.
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 24) {
  console.error(`Skyglass needs Node 24; this is Node ${process.version}. Run npm run setup, then npm start.`);
  process.exit(1);
}

const port = Number(process.env.PORT ?? 9292);
const dir = dataDir();
console.log(`Starting Skyglass locally (data in ${dir}) ...`);
// The browser console is built (while the emulators start) when missing or older than its
// sources; a failed build leaves the API running and /console/ saying what to run.
if (consoleBuildStale()) console.log('Building the browser console (console/) ...');
const consoleBuilt = ensureConsoleBuilt().then(
  () => true,
  (error: Error) => {
    console.error(`The browser console did not build: ${error.message}\nRun npm run build:console to see why.`);
    return false;
  },
);
let runtime: Awaited<ReturnType<typeof startLocalRuntime>>;
try {
  runtime = await startLocalRuntime({ port, dataDir: dir, host: process.env.HOST ?? '127.0.0.1' });
} catch (error) {
  // A configuration mistake is the operator's to fix: say what it is, without a stack trace.
  if (!(error instanceof ConfigurationError)) throw error;
  console.error(`Skyglass did not start: ${error.message}`);
  process.exit(1);
}
// So `npm run token` can tell which data folder (and so which key) the running service uses.
const forget = announceRuntime({ pid: process.pid, url: runtime.url, dataDir: dir });
process.once('exit', forget);
const tokenCommand = `${dataDirChosen() ? `DATA_DIR=${dir} ` : ''}npm run -s token -- --project demo --roles member`;
console.log(`Skyglass (Glance Images API v2) is listening on ${runtime.url}
Get a token:   export TOKEN=$(${tokenCommand})
Try it:        curl -s -H "X-Auth-Token: $TOKEN" ${runtime.url}/v2/images${(await consoleBuilt) ? `\nConsole:       ${runtime.url}/console/` : ''}
Press Ctrl-C to stop.`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping ...`);
  forget();
  await runtime.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
