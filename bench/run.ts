/**
 * `npm run bench`: bundle size per function, cold import time against bare node, DynamoDB
 * calls and items read per API operation, and data-plane throughput (uploads, the verifier's
 * hashing, upload to active), Glance's PUT /file through the data front against sha512sum, and what
 * each list query reads as the catalogue grows to 100,000 images, each checked against the issue's budgets.
 *
 * `npm run bench -- --only data` (or `--only bundles,cold,dynamodb,data,front,cli,console,keystone,list-scale,web-download,copy-image`, any subset) runs only
 * the named sections; `cold` builds the bundles it imports without reporting section 1.
 *
 * Timings are printed as ratios against references measured in the same run, so the figures
 * compare across machines; the budgets print PASS/FAIL and a summary line. The exit code is 0
 * whatever the budgets say (non-zero only if the bench itself cannot run).
 */
import { performance } from 'node:perf_hooks';
import { buildBundles, buildClientSetReferences, buildReference, reportBundles } from './bundles.js';
import { measureColdImports, measureFirstAnswers, reportColdImports, reportFirstAnswers } from './cold-import.js';
import { measureCliIsolated, reportCli } from './cli.js';
import { measureConsoleUpload, reportConsoleUpload } from './console-upload.js';
import { measureDataPlaneIsolated, reportDataPlane } from './data-plane.js';
import { measureDataFront, reportDataFront } from './data-front.js';
import { measureDynamoDb, reportDynamoDb } from './dynamodb-ops.js';
import { measureKeystoneAuth, reportKeystoneAuth } from './keystone-auth.js';
import { measureListScale, reportListScale } from './list-scale.js';
import { measureWebDownload, reportWebDownload } from './web-download.js';
import { measureCopyImage, reportCopyImage } from './copy-image.js';
import { budgetResults, progress } from './report.js';

const SECTIONS = ['bundles', 'cold', 'dynamodb', 'data', 'front', 'cli', 'console', 'keystone', 'list-scale', 'web-download', 'copy-image'] as const;
type Section = (typeof SECTIONS)[number];

/** `--only a,b` or `--only=a,b` (repeatable); every section when absent. */
function selectedSections(args: string[]): Set<Section> {
  const named: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--only' && args[i + 1] !== undefined) named.push(...(args[++i] as string).split(','));
    else if (arg.startsWith('--only=')) named.push(...arg.slice('--only='.length).split(','));
    else {
      console.error(`unknown argument ${JSON.stringify(arg)}; usage: npm run bench [-- --only ${SECTIONS.join(',')}]`);
      process.exit(2);
    }
  }
  const wanted = named.map((n) => n.trim()).filter(Boolean);
  const unknown = wanted.filter((n) => !(SECTIONS as readonly string[]).includes(n));
  if (unknown.length) {
    console.error(`unknown section(s) ${unknown.join(', ')}; sections: ${SECTIONS.join(', ')}`);
    process.exit(2);
  }
  return new Set((wanted.length ? wanted : SECTIONS) as Section[]);
}

const only = selectedSections(process.argv.slice(2));
const started = performance.now();
console.log(`Skyglass bench — node ${process.version}, ${process.platform}/${process.arch}`);

if (only.has('bundles') || only.has('cold')) {
  progress('building bundles');
  const bundles = await buildBundles();
  if (only.has('bundles')) reportBundles(bundles);

  // Before DynamoDB Local starts, so its JVM does not compete for the CPU with the timed processes.
  if (only.has('cold')) {
    const references = {
      sdk: await buildReference('sdk-reference'),
      floor: await buildReference('floor-reference'),
      clientSets: await buildClientSetReferences(bundles),
    };
    reportColdImports(measureColdImports(bundles, references));
    reportFirstAnswers(await measureFirstAnswers(bundles, references));
  }
}

if (only.has('dynamodb')) {
  const dynamo = await measureDynamoDb();
  reportDynamoDb(dynamo);
}

// In a child process of its own: see bench/data-plane.ts.
if (only.has('data')) {
  const data = await measureDataPlaneIsolated();
  reportDataPlane(data);
}

// The runtime and the S3 emulator in child processes of their own: see bench/data-front.ts.
if (only.has('front')) reportDataFront(await measureDataFront());

// The built CLI against lib-storage, its runtime in a child process of its own: see bench/cli.ts.
if (only.has('cli')) reportCli(await measureCliIsolated());

// The browser console's upload in headless Chromium against the CLI's (bench/console-upload.ts).
if (only.has('console')) reportConsoleUpload(await measureConsoleUpload());

// The authorizer's Keystone mode: calls to Keystone and the cost of a cached token (bench/keystone-auth.ts).
if (only.has('keystone')) reportKeystoneAuth(await measureKeystoneAuth());

// Its own local runtime, filled straight into DynamoDB Local (LIST_SCALE_SIZES=1000,10000 for a shorter run).
if (only.has('list-scale')) reportListScale(await measureListScale());

// A 1 GiB web-download import from a local HTTP server against curl of the same URL (bench/web-download.ts).
if (only.has('web-download')) reportWebDownload(await measureWebDownload());

// copy-image of an active 1 GiB image between the two local stores, against cp and the local S3's CopyObject (bench/copy-image.ts).
if (only.has('copy-image')) reportCopyImage(await measureCopyImage());

const results = budgetResults();
const failed = results.filter((r) => !r.pass);
console.log('');
for (const section of [...new Set(results.map((r) => r.section))]) {
  const all = results.filter((r) => r.section === section);
  const bad = all.filter((r) => !r.pass);
  console.log(`${section}: ${all.length - bad.length}/${all.length} PASS${bad.length ? ` (FAIL: ${bad.map((r) => r.subject.replace(/^functions\//, '')).join(', ')})` : ''}`);
}
console.log(
  `SUMMARY: ${results.length - failed.length}/${results.length} budgets PASS, ${failed.length} FAIL ` +
    `(bench took ${((performance.now() - started) / 1000).toFixed(0)} s)`,
);
