/**
 * CDK entry point (`cdk.json`: `npx tsx infra/app.ts`). Configuration comes from context; see
 * infra/config.ts for every `skyglass:*` key. Examples:
 *
 *   npx cdk synth                                   # dev stage, own Cognito user pool
 *   npx cdk deploy -c skyglass:stage=prod
 *   npx cdk deploy -c skyglass:jwtIssuer=https://idp.example -c skyglass:jwksUrl=https://idp.example/jwks
 *   SKYGLASS_SKIP_BUNDLING=1 npx cdk synth          # no esbuild, for quick looks at the template
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readConfig } from './config.js';
import { ensureConsoleBuilt } from './local/console-build.js';
import { SkyglassStack, stackPropsFrom } from './stack.js';

const app = new App();
const config = readConfig((key) => app.node.tryGetContext(key));

if (config.skipBundling) {
  // NodejsFunction bundles only the stacks this context lists; an empty list skips esbuild.
  app.node.setContext('aws:cdk:bundling-stacks', []);
}

// The console's files are an asset of the stack: built here (vite, a few seconds) when missing or stale.
if (config.console) await ensureConsoleBuilt();

new SkyglassStack(app, `Skyglass-${config.stage}`, {
  ...stackPropsFrom(config),
  stackName: `skyglass-${config.stage}`,
  // Environment-agnostic unless skyglass:account / skyglass:region are given, so synth needs no credentials.
  ...(config.env && { env: config.env }),
});

if (config.nag) {
  // cdk-nag 3 is a CDK validation plugin: synthesis stops on any unacknowledged finding.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
