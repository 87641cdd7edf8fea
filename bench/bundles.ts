import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { LAMBDA_BUNDLE } from '../infra/bundling.js';
import { AUTHORIZER_HANDLER, FALLBACK_HANDLER, ROUTES, WORKERS } from '../shared/routes.js';
import { check, heading, printTable, progress } from './report.js';

export const ROOT = join(import.meta.dirname, '..');
export const OUT_DIR = join(ROOT, 'bench', 'out');
export const BUNDLE_BUDGET_KB = 500;

/** The stack's bundling (infra/bundling.ts), plus what NodejsFunction adds: `bundle`, `platform: node`. */
const STACK_OPTIONS: BuildOptions = {
  ...LAMBDA_BUNDLE,
  mainFields: [...LAMBDA_BUNDLE.mainFields],
  banner: { js: LAMBDA_BUNDLE.banner },
  bundle: true,
  platform: 'node',
  external: [],
};

export interface Bundle {
  /** Handler module, relative to the repository root. */
  handler: string;
  /** Functions built from it: operation ids, or `authorizer` / `fallback`. */
  functions: string[];
  file: string;
  bytes: number;
  /** Largest contributors to the minified output, by package. */
  top: { name: string; bytes: number }[];
  /** What the SKYGLASS_DYNAMODB_STATS middleware adds (nothing: infra/bundling.ts defines it unset, so esbuild drops it). */
  statsBytes: number;
  /** The AWS SDK client packages it bundles (`@aws-sdk/client-*`), sorted. */
  sdkClients: string[];
}

/** The client class each SDK client package exports, for the per-client-set references. */
const CLIENT_CLASSES: Record<string, string> = {
  '@aws-sdk/client-dynamodb': 'DynamoDBClient',
  '@aws-sdk/client-s3': 'S3Client',
  '@aws-sdk/client-sfn': 'SFNClient',
  '@aws-sdk/client-eventbridge': 'EventBridgeClient',
};

const STATS_MODULE = 'shared/adapters/dynamodb-call-stats.ts';

/**
 * One bundle per distinct handler module (two routes share the versions handler, hence one
 * bundle): every route's, the authorizer's, the fallback's, and the workflow and stream workers'.
 */
function functionsByHandler(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const route of ROUTES) map.set(route.handler, [...(map.get(route.handler) ?? []), route.operationId]);
  for (const worker of WORKERS) map.set(worker.handler, [...(map.get(worker.handler) ?? []), worker.name]);
  map.set(AUTHORIZER_HANDLER, [...(map.get(AUTHORIZER_HANDLER) ?? []), 'authorizer']);
  map.set(FALLBACK_HANDLER, [...(map.get(FALLBACK_HANDLER) ?? []), 'fallback']);
  return map;
}


function packageOf(input: string): string {
  const i = input.lastIndexOf('node_modules/');
  if (i < 0) return 'skyglass code';
  const parts = input.slice(i + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
}

/** Metafile paths are relative to absWorkingDir, with forward slashes. */
const inputsOf = (meta: Metafile, outfile: string) => meta.outputs[relative(ROOT, outfile).split(sep).join('/')]?.inputs ?? {};

function topContributors(meta: Metafile, outfile: string): { name: string; bytes: number }[] {
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(inputsOf(meta, outfile))) {
    byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + bytesInOutput);
  }
  return [...byPackage.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

export async function buildBundles(): Promise<Bundle[]> {
  rmSync(OUT_DIR, { recursive: true, force: true });
  const bundles: Bundle[] = [];
  for (const [handler, functions] of functionsByHandler()) {
    const name = handler.replace(/^functions\//, '').replace(/\.ts$/, '').replace(/\//g, '-');
    const file = join(OUT_DIR, name, 'index.mjs');
    mkdirSync(dirname(file), { recursive: true });
    progress(`bundling ${handler}`);
    const result = await build({
      ...STACK_OPTIONS,
      absWorkingDir: ROOT,
      entryPoints: [join(ROOT, handler)],
      outfile: file,
      metafile: true,
      logLevel: 'error',
    });
    const top = topContributors(result.metafile, file);
    const sdkClients = top.map((t) => t.name).filter((n) => n.startsWith('@aws-sdk/client-')).sort();
    bundles.push({ handler, functions, file, bytes: statSync(file).size, top, statsBytes: inputsOf(result.metafile, file)[STATS_MODULE]?.bytesInOutput ?? 0, sdkClients });
  }
  return bundles;
}

/** Cold-import references (bench/sdk-reference.ts, bench/floor-reference.ts), bundled exactly like the functions. */
export async function buildReference(name: 'sdk-reference' | 'floor-reference'): Promise<string> {
  const file = join(OUT_DIR, name, 'index.mjs');
  mkdirSync(dirname(file), { recursive: true });
  await build({ ...STACK_OPTIONS, absWorkingDir: ROOT, entryPoints: [join(ROOT, 'bench', `${name}.ts`)], outfile: file, logLevel: 'error' });
  return file;
}

/** The key of a set of SDK clients, e.g. `client-dynamodb+client-s3`. */
export const clientSetKey = (clients: readonly string[]): string => clients.map((c) => c.replace('@aws-sdk/', '')).join('+');

/**
 * One reference per distinct set of SDK clients the bundles hold: a bundle with bare instances
 * of exactly those clients and nothing else, bundled like the functions. A function against
 * its own set's reference shows what Skyglass's code adds to the SDK clients it needs.
 */
export async function buildClientSetReferences(bundles: Bundle[]): Promise<Map<string, string>> {
  const references = new Map<string, string>();
  for (const clients of new Map(bundles.filter((b) => b.sdkClients.length).map((b) => [clientSetKey(b.sdkClients), b.sdkClients])).values()) {
    const key = clientSetKey(clients);
    const classes = clients.map((c) => {
      const cls = CLIENT_CLASSES[c];
      if (!cls) throw new Error(`bench/bundles.ts: no client class known for ${c}; add it to CLIENT_CLASSES`);
      return [c, cls] as const;
    });
    const contents = [
      ...classes.map(([pkg, cls]) => `import { ${cls} } from '${pkg}';`),
      'let clients;',
      `export const handler = async () => (clients ??= [${classes.map(([, cls]) => `new ${cls}({})`).join(', ')}]);`,
    ].join('\n');
    const file = join(OUT_DIR, 'references', key, 'index.mjs');
    mkdirSync(dirname(file), { recursive: true });
    await build({ ...STACK_OPTIONS, absWorkingDir: ROOT, stdin: { contents, resolveDir: join(ROOT, 'bench'), loader: 'js' }, outfile: file, logLevel: 'error' });
    references.set(key, file);
  }
  return references;
}

const kb = (bytes: number) => (bytes / 1000).toFixed(1);

export function reportBundles(bundles: Bundle[]): void {
  heading(`1. Bundle size per function (esbuild, stack options; budget <= ${BUNDLE_BUDGET_KB} kB each)`);
  const rows = bundles.map((b) => {
    const top = b.top
      .slice(0, 3)
      .map((t) => `${t.name} ${Math.round((100 * t.bytes) / b.bytes)}%`)
      .join(', ');
    return [
      b.handler.replace(/^functions\//, ''),
      b.functions.join(', '),
      kb(b.bytes),
      `${Math.round((100 * b.bytes) / (BUNDLE_BUDGET_KB * 1000))}%`,
      check('bundle size', b.handler, b.bytes <= BUNDLE_BUDGET_KB * 1000),
      top,
    ];
  });
  printTable(['handler', 'functions', '>kB (min)', '>of budget', 'budget', 'largest parts of the bundle'], rows);
  const stats = Math.max(...bundles.map((b) => b.statsBytes));
  if (stats > 0) console.log(`(the DynamoDB call-stats middleware, off unless SKYGLASS_DYNAMODB_STATS=1, adds ${kb(stats)} kB where the DynamoDB client is bundled.)`);
}
