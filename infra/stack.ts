import { CfnOutput, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { isProdStage, type AuthConfig } from './config.js';
import { ImageApi } from './constructs/image-api.js';
import { ImageBucket } from './constructs/image-bucket.js';
import { ImageTable } from './constructs/image-table.js';
import type { SkyglassFunction } from './constructs/skyglass-function.js';
import { UserDirectory } from './constructs/user-directory.js';

export interface SkyglassStackProps extends StackProps {
  /** Stage name (`dev`, `prod`, ...); `prod`/`production` retain data and turn on deletion protection. */
  readonly stage: string;
  /** Which tokens the authorizer trusts. */
  readonly auth: AuthConfig;
  /**
   * API Gateway access logs (needs the account-level API Gateway CloudWatch role).
   * @default false
   */
  readonly accessLogs?: boolean;
  /**
   * Stage-wide throttling.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttling?: { readonly rateLimit: number; readonly burstLimit: number };
}

/** Lambda's environment is limited to 4 KB in total; leave room for the other variables. */
const MAX_JWKS_JSON_BYTES = 3000;

/** The whole Skyglass service for one stage. */
export class SkyglassStack extends Stack {
  public readonly stage: string;
  public readonly production: boolean;
  public readonly table: dynamodb.Table;
  public readonly bucket: s3.Bucket;
  public readonly api: apigateway.RestApi;
  public readonly imageApi: ImageApi;
  /** Route functions by operationId. */
  public readonly functions: Readonly<Record<string, SkyglassFunction>>;
  public readonly authorizerFunction: SkyglassFunction;
  public readonly fallbackFunction: SkyglassFunction;
  /** Only when the stack creates its own issuer (`auth.kind === 'cognito'`). */
  public readonly userPool?: cognito.UserPool;
  public readonly userPoolClient?: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: SkyglassStackProps) {
    const { stage: _stage, auth: _auth, accessLogs: _accessLogs, throttling: _throttling, ...stackProps } = props;
    super(scope, id, {
      description: `Skyglass: OpenStack Glance Images API v2 on AWS (${props.stage})`,
      ...stackProps,
    });
    this.stage = props.stage;
    this.production = isProdStage(props.stage);
    Tags.of(this).add('skyglass:stage', props.stage);

    this.table = new ImageTable(this, 'Images', { production: this.production }).table;
    this.bucket = new ImageBucket(this, 'ImageData', { production: this.production }).bucket;

    const { claims } = props.auth;
    const authorizerEnvironment: Record<string, string> = {
      CLAIM_PROJECT: claims.project,
      CLAIM_USER: claims.user,
      CLAIM_ROLES: claims.roles,
    };
    let issuer: string;
    if (props.auth.kind === 'cognito') {
      const users = new UserDirectory(this, 'Users', { stage: props.stage, production: this.production });
      this.userPool = users.userPool;
      this.userPoolClient = users.client;
      issuer = users.issuer;
      Object.assign(authorizerEnvironment, {
        JWT_ISSUER: users.issuer,
        // ID tokens carry the custom attributes, and their `aud` is the app client id.
        JWT_AUDIENCE: users.client.userPoolClientId,
        JWKS_URL: users.jwksUrl,
      });
    } else {
      issuer = props.auth.issuer;
      authorizerEnvironment.JWT_ISSUER = props.auth.issuer;
      if (props.auth.audience !== undefined) authorizerEnvironment.JWT_AUDIENCE = props.auth.audience;
      if (props.auth.jwksUrl !== undefined) authorizerEnvironment.JWKS_URL = props.auth.jwksUrl;
      if (props.auth.jwksJson !== undefined) {
        const compact = JSON.stringify(JSON.parse(props.auth.jwksJson));
        if (Buffer.byteLength(compact) > MAX_JWKS_JSON_BYTES) {
          throw new Error(`jwksJson is ${Buffer.byteLength(compact)} bytes; Lambda environments hold 4 KB in total, use jwksUrl instead`);
        }
        authorizerEnvironment.JWKS_JSON = compact;
      }
    }

    this.imageApi = new ImageApi(this, 'Api', {
      stage: props.stage,
      table: this.table,
      authorizerEnvironment,
      production: this.production,
      ...(props.accessLogs !== undefined && { accessLogs: props.accessLogs }),
      ...(props.throttling && { throttling: props.throttling }),
    });
    this.api = this.imageApi.api;
    this.functions = this.imageApi.functions;
    this.authorizerFunction = this.imageApi.authorizerFunction;
    this.fallbackFunction = this.imageApi.fallbackFunction;

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Glance endpoint (pass as --os-image-url)' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'BucketName', { value: this.bucket.bucketName });
    new CfnOutput(this, 'JwtIssuer', { value: issuer, description: 'Issuer the authorizer trusts' });
    if (this.userPool && this.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: this.userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId });
    }
  }
}
