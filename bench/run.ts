/**
 * `npm run bench`: bundle size per function, cold import time against bare node, and DynamoDB
 * calls and items read per API operation, each checked against the issue's budgets.
 *
 * Timings are printed as ratios against references measured in the same run, so the figures
 * compare across machines; the budgets print PASS/FAIL and a summary line. The exit code is 0
 * whatever the budgets say (non-zero only if the bench itself cannot run).
 */
import { performance } from 'node:perf_hooks';
import { buildBundles, reportBundles } from './bundles.js';
import { measureColdImports, reportColdImports } from './cold-import.js';
import { measureDynamoDb, reportDynamoDb } from './dynamodb-ops.js';
import { budgetResults, progress } from './report.js';

const started = performance.now();
console.log(`Skyglass bench — node ${process.version}, ${process.platform}/${process.arch}`);

progress('building bundles');
const bundles = await buildBundles();
reportBundles(bundles);

// Before DynamoDB Local starts, so its JVM does not compete for the CPU with the timed processes.
const cold = measureColdImports(bundles);
reportColdImports(cold);

const dynamo = await measureDynamoDb();
reportDynamoDb(dynamo);

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
