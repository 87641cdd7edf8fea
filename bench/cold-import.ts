import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Bundle } from './bundles.js';
import { check, heading, median, printTable, progress } from './report.js';

export const COLD_IMPORT_BUDGET = 1.3;
const RUNS = 7;

/**
 * What the stack gives the functions, with placeholder values, so module initialisation finds
 * what it expects. The children get only this (plus PATH/HOME), never the bench's own
 * environment: tsx's loader flags in NODE_OPTIONS would otherwise load into every child.
 */
const CHILD_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  TABLE_NAME: 'skyglass-bench',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  JWKS_JSON: JSON.stringify({ keys: [] }),
  JWT_ISSUER: 'skyglass-bench',
  JWT_AUDIENCE: 'skyglass',
};

interface Timed {
  ms: number;
  status: number | null;
  stderr: string;
}

function run(args: string[]): Timed {
  const start = performance.now();
  const child = spawnSync(process.execPath, args, { env: CHILD_ENV, encoding: 'utf8' });
  const ms = performance.now() - start;
  return { ms, status: child.status, stderr: child.stderr ?? '' };
}

const BARE = ['-e', '0'];
/** The ESM entry path alone (`--input-type=module` and a top-level await), importing nothing. */
const EMPTY_ESM = ['--input-type=module', '-e', 'await 0'];
const importArgs = (file: string) => ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)})`];
/** Untimed warm-up: fills the file cache and checks the bundle loads and exports `handler`. */
const verifyArgs = (file: string) => [
  '--input-type=module',
  '-e',
  `const m = await import(${JSON.stringify(pathToFileURL(file).href)}); if (typeof m.handler !== 'function') { console.error('no handler export'); process.exit(3); }`,
];

export interface ColdImportResult {
  bundle: Bundle;
  medianMs: number;
  error: string | undefined;
}

export interface ColdImportReport {
  bareMs: number;
  emptyEsmMs: number;
  /** A bundle holding only a bare DynamoDB client (bench/sdk-reference.ts), measured alongside. */
  sdkMs: number;
  results: ColdImportResult[];
}

/** Each round runs, per bundle, a bare `node -e 0` then the bundle's import, so drift hits both alike. */
export function measureColdImports(bundles: Bundle[], sdkReference: string): ColdImportReport {
  const errors = new Map<Bundle, string>();
  run(BARE);
  run(importArgs(sdkReference));
  const sdk: number[] = [];
  for (const b of bundles) {
    const v = run(verifyArgs(b.file));
    if (v.status !== 0) errors.set(b, v.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${v.status}`);
  }
  const bare: number[] = [];
  const emptyEsm: number[] = [];
  const samples = new Map<Bundle, number[]>(bundles.map((b) => [b, []]));
  for (let round = 1; round <= RUNS; round++) {
    progress(`cold import round ${round}/${RUNS}`);
    emptyEsm.push(run(EMPTY_ESM).ms);
    sdk.push(run(importArgs(sdkReference)).ms);
    for (const b of bundles) {
      bare.push(run(BARE).ms);
      if (errors.has(b)) continue;
      const t = run(importArgs(b.file));
      if (t.status !== 0) errors.set(b, t.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${t.status}`);
      else samples.get(b)?.push(t.ms);
    }
  }
  return {
    bareMs: median(bare),
    emptyEsmMs: median(emptyEsm),
    sdkMs: median(sdk),
    results: bundles.map((b) => ({ bundle: b, medianMs: errors.has(b) ? NaN : median(samples.get(b) ?? []), error: errors.get(b) })),
  };
}

export function reportColdImports(report: ColdImportReport): void {
  heading(`2. Cold import time, fresh node process, median of ${RUNS} (budget <= ${COLD_IMPORT_BUDGET}x bare node)`);
  const { bareMs, emptyEsmMs, sdkMs } = report;
  console.log(`references, same run: bare \`node -e 0\` = 1.00x (median ${bareMs.toFixed(1)} ms);`);
  console.log(`  empty ESM eval \`node --input-type=module -e "await 0"\` = ${(emptyEsmMs / bareMs).toFixed(2)}x bare`);
  console.log(`  a bundle holding only a bare DynamoDBClient (bench/sdk-reference.ts) = ${(sdkMs / bareMs).toFixed(2)}x bare (median ${sdkMs.toFixed(1)} ms)`);
  const rows = report.results.map(({ bundle, medianMs, error }) => {
    if (error) return [bundle.handler.replace(/^functions\//, ''), 'error', '-', '-', '-', check('cold import', bundle.handler, false), error];
    const ratio = medianMs / bareMs;
    // What the bundle itself adds, over the ESM eval path, as a share of bare node.
    const added = (medianMs - emptyEsmMs) / bareMs;
    return [
      bundle.handler.replace(/^functions\//, ''),
      `${ratio.toFixed(2)}x`,
      `+${added.toFixed(2)}x`,
      `${(medianMs / sdkMs).toFixed(2)}x`,
      medianMs.toFixed(1),
      check('cold import', bundle.handler, ratio <= COLD_IMPORT_BUDGET),
      '',
    ];
  });
  printTable(['handler', '>vs bare node', '>bundle alone', '>vs bare SDK client', '>median ms', 'budget', 'note'], rows);
  console.log('(`bundle alone` = (import - empty ESM eval) / bare: the part the bundle itself costs;');
  console.log(' `vs bare SDK client`: against the reference above, i.e. what Skyglass\'s code adds to the AWS SDK it needs.)');
}
