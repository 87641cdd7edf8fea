import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { METADEF_SEEDING_FUNCTION } from '../../shared/app/metadef-services.js';
import { CATALOGUE_VERSION } from '../../shared/domain/metadef-catalogue.js';
import { ROUTES } from '../../shared/routes.js';
import { SkyglassFunction, type AccessTargets } from './skyglass-function.js';

/** The seed function's name where its calls are recorded and checked (test/iam). */
export const SEED_FUNCTION_NAME = 'seedMetadefCatalogue';

/** The handler CloudFormation invokes for the seed (a custom resource's ServiceToken). */
export const SEED_HANDLER = 'functions/metadefs/seed-catalogue.ts';

export interface MetadefCatalogueSeedProps {
  readonly stage: string;
  /** The table the catalogue is in. */
  readonly targets: AccessTargets;
  /**
   * Production retains the function's log group when the stack is deleted.
   * @default false
   */
  readonly production?: boolean;
}

/**
 * Seeds the metadefs catalogue at deploy time (issue #14): a custom resource whose ServiceToken
 * is a function running the seed npm start runs (shared/app/metadefs.ts `seed`), on Create and
 * on every Update, which a new CATALOGUE_VERSION causes. The seed writes only what does not
 * exist and then the version's marker, so an operator's edits and deletions stay; Delete
 * removes nothing (the catalogue is data in the table). Without a Provider framework: one
 * function that answers CloudFormation itself (shared/http/cloudformation-custom-resource.ts),
 * so the stack holds 6 resources for it, not 12. Its access is exactly the seeding route's
 * (METADEF_SEEDING_FUNCTION, whose seed on a first list test/iam checks call by call).
 */
export class MetadefCatalogueSeed extends Construct {
  public readonly function: SkyglassFunction;
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: MetadefCatalogueSeedProps) {
    super(scope, id);
    const seeding = ROUTES.find((r) => r.operationId === METADEF_SEEDING_FUNCTION);
    if (!seeding) throw new Error(`MetadefCatalogueSeed: the seeding route ${METADEF_SEEDING_FUNCTION} is no route`);
    this.function = new SkyglassFunction(this, 'Function', {
      handlerPath: SEED_HANDLER,
      description: `skyglass-${props.stage} seeds the metadefs catalogue ${CATALOGUE_VERSION} at deploy time (never overwrites an operator's edits)`,
      // A few dozen conditional writes; CloudFormation waits for the answer.
      timeout: Duration.minutes(2),
      logRemovalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.function.grantAccess(seeding.access, props.targets);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.function.functionArn,
      resourceType: 'Custom::SkyglassMetadefCatalogueSeed',
      // A new catalogue version is an Update, which seeds what it adds.
      properties: { CatalogueVersion: CATALOGUE_VERSION },
    });
  }
}
