import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/**
 * How every Lambda is bundled, in esbuild's own terms. SkyglassFunction hands these to
 * NodejsFunction and the bench builds with exactly the same, so the sizes it prints are the
 * deployed ones. No CDK import here: the bench loads this without the CDK.
 */
export const LAMBDA_BUNDLE = {
  format: 'esm',
  minify: true,
  sourcemap: false,
  target: 'node24',
  mainFields: ['module', 'main'],
  // Bundled CommonJS inside an ESM bundle still calls require() for Node built-ins.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  /**
   * In Lambda the credentials are always in the environment, so the SDK's default provider
   * chain (SSO, INI files, process, web identity, STS and SSO clients) is dead weight: about
   * 40% of a DynamoDB bundle and of its cold import. Swap in the environment provider.
   */
  alias: { '@aws-sdk/credential-provider-node': fileURLToPath(new URL('./lambda-credentials.ts', import.meta.url)) },
  /**
   * The tests' and the bench's own hooks, which only the local runtime and the in-process bench
   * switch on (fault injection for the resilience and crash tests, the call log test/iam checks
   * against the stack's grants, DynamoDB call counts): never set on a deployed function, so fixed
   * as unset there, and esbuild drops the middleware they would attach (about 5 kB of every
   * bundle that calls AWS).
   */
  define: {
    'process.env.SKYGLASS_FAULTS_FILE': 'undefined',
    'process.env.SKYGLASS_AWS_CALL_LOG': 'undefined',
    'process.env.SKYGLASS_DYNAMODB_STATS': 'undefined',
  },
} as const;

/**
 * How the data front (functions/data-front/server.ts) is bundled for its container: as the
 * Lambdas are, except for the credentials. On ECS the task role's credentials come from the
 * container credentials endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), which only the SDK's
 * default provider chain reads, so the Lambda-only environment provider is not swapped in.
 */
const FRONT_BUNDLE = {
  format: LAMBDA_BUNDLE.format,
  minify: LAMBDA_BUNDLE.minify,
  sourcemap: LAMBDA_BUNDLE.sourcemap,
  target: LAMBDA_BUNDLE.target,
  mainFields: LAMBDA_BUNDLE.mainFields,
  banner: LAMBDA_BUNDLE.banner,
} as const;

/**
 * Node's flags for the front's process (its container's CMD; the bench and tests run the bundle
 * with them too). A 2 MiB semi-space instead of Node 24's 16 MiB: the front's garbage is short
 * lived (64 KiB socket chunks, copied at once into kept part buffers), so the larger young
 * generation only held more of it resident. Bench section 5, bundled front, 1 GiB uploads:
 * peak RSS 209-259 MiB, creeping over 14 uploads -> 186-191 MiB, flat, at about the same CPU.
 */
export const DATA_FRONT_NODE_FLAGS = ['--max-semi-space-size=2'] as const;

/** The front's entry module (an HTTP server, not a Lambda handler), relative to the repository root. */
export const DATA_FRONT_ENTRY = 'functions/data-front/server.ts';

/**
 * Writes the front's bundle, `index.mjs`, into `dir`: what its image runs (`node index.mjs`,
 * infra/constructs/data-front.ts), and what a test may start to cover that very artifact.
 * @returns the bundle's path
 */
export function bundleDataFront(dir: string): string {
  const outfile = path.join(dir, 'index.mjs');
  buildSync({
    entryPoints: [fileURLToPath(new URL(`../${DATA_FRONT_ENTRY}`, import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: FRONT_BUNDLE.format,
    minify: FRONT_BUNDLE.minify,
    sourcemap: FRONT_BUNDLE.sourcemap,
    target: FRONT_BUNDLE.target,
    mainFields: [...FRONT_BUNDLE.mainFields],
    banner: { js: FRONT_BUNDLE.banner },
    logLevel: 'warning',
  });
  return outfile;
}
