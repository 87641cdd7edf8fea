import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as cr from 'aws-cdk-lib/custom-resources';
import { join } from 'node:path';
import { Construct } from 'constructs';
import { privateBucketProps } from './image-bucket.js';
import { CONSOLE_EXTRA_HEADERS, consoleContentSecurityPolicy } from '../console-headers.js';
import type { ClaimNames } from '../config.js';

export interface ConsoleSiteProps {
  readonly stage: string;
  /** The built console (`npm run build:console` writes dist/console; `cdk synth` builds it when stale). */
  readonly assetDir: string;
  /** The API the console calls (its origin goes into the CSP, its URL into config.json). */
  readonly api: apigateway.RestApi;
  /** The image bucket: its presigned-URL origin goes into the CSP, and its CORS admits the console's part PUTs. */
  readonly imageBucket: s3.IBucket;
  /** The stack's user pool: the console signs in through its hosted UI. */
  readonly userPool: cognito.UserPool;
  /** The claims the authorizer reads, so the console shows who is signed in as the API sees it. */
  readonly claims: ClaimNames;
  /**
   * The hosted UI's domain prefix (`<prefix>.auth.<region>.amazoncognito.com`), unique in the region.
   * @default `skyglass-<stage>-<account id>`
   */
  readonly domainPrefix?: string;
  /**
   * Production keeps the bucket (RETAIN, no auto-delete).
   * @default false
   */
  readonly production?: boolean;
}

/** Where the files live in the bucket and on the distribution: the path the console's build expects (vite `base`). */
export const CONSOLE_PREFIX = 'console';
/** Vite's folder of content-hashed files in the build (build.assetsDir's default). */
export const CONSOLE_ASSETS = 'assets';

/**
 * Viewer requests: `/` goes to the console, and each of the console's own views (any path under
 * /console/ but its hashed assets and config.json) is index.html, which the browser-side router
 * reads. A missing asset stays a 403/404 rather than a page of HTML.
 */
export const CONSOLE_VIEWER_FUNCTION = `function handler(event) {
  var uri = event.request.uri;
  if (uri === '/' || uri === '/${CONSOLE_PREFIX}') {
    return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '/${CONSOLE_PREFIX}/' } } };
  }
  if (uri.indexOf('/${CONSOLE_PREFIX}/') === 0 && uri.indexOf('/${CONSOLE_PREFIX}/assets/') !== 0 && uri !== '/${CONSOLE_PREFIX}/config.json') {
    event.request.uri = '/${CONSOLE_PREFIX}/index.html';
  }
  return event.request;
}`;

/**
 * The browser console in AWS: its built files in a private bucket (SSE, TLS only, public access
 * blocked) served only through CloudFront with Origin Access Control and security headers (a CSP
 * without 'unsafe-inline' whose connect-src is exactly the API, the store's presigned-URL origin
 * and the hosted UI's token endpoint); a Cognito app client (authorization code with PKCE, no
 * secret, the console's URL as callback and logout) and hosted UI domain; the console's runtime
 * settings as `config.json` beside its files; and the image bucket's CORS admitting exactly the
 * console's origin for part PUTs.
 */
export class ConsoleSite extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly distribution: cloudfront.Distribution;
  public readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  public readonly client: cognito.UserPoolClient;
  public readonly domain: cognito.UserPoolDomain;
  /** index.html and config.json, revalidated on every load. */
  public readonly deployment: s3deploy.BucketDeployment;
  /** The content-hashed assets, cached for a year. */
  public readonly assets: s3deploy.BucketDeployment;
  /** Writes the image bucket's CORS rule (see below why not the template). */
  public readonly imageBucketCors: cr.AwsCustomResource;
  /** `https://<distribution domain>`: the one origin the API and the image bucket admit. */
  public readonly origin: string;
  /** `https://<distribution domain>/console/`: where users go, and the app client's callback. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const production = props.production ?? false;

    this.bucket = new s3.Bucket(this, 'Bucket', privateBucketProps(production));
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The bucket holds only the console\'s public build (no user data), written by the stack\'s deployment and read only by CloudFront through OAC; as for the image bucket, object-level audit belongs to CloudTrail S3 data events at the account level.',
    });

    this.domain = props.userPool.addDomain('ConsoleDomain', {
      cognitoDomain: { domainPrefix: props.domainPrefix ?? `skyglass-${props.stage.toLowerCase()}-${stack.account}` },
    });
    const signInOrigin = this.domain.baseUrl();
    const apiOrigin = `https://${props.api.restApiId}.execute-api.${stack.region}.${stack.urlSuffix}`;
    // The origin of the URLs the S3 presigner writes (virtual-hosted, regional): test/infra checks it against the SDK's.
    const storeOrigin = `https://${props.imageBucket.bucketName}.s3.${stack.region}.${stack.urlSuffix}`;

    this.responseHeadersPolicy = new cloudfront.ResponseHeadersPolicy(this, 'Headers', {
      comment: `skyglass-${props.stage} console: CSP, HSTS, nosniff, no framing, no referrer`,
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: consoleContentSecurityPolicy([apiOrigin, storeOrigin, signInOrigin]), override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
      customHeadersBehavior: {
        customHeaders: Object.entries(CONSOLE_EXTRA_HEADERS).map(([header, value]) => ({ header, value, override: true })),
      },
    });

    const viewerRequest = new cloudfront.Function(this, 'ViewerRequest', {
      comment: `skyglass-${props.stage} console: / to the console, its views to index.html`,
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(CONSOLE_VIEWER_FUNCTION),
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `skyglass-${props.stage} browser console`,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeadersPolicy,
        functionAssociations: [{ function: viewerRequest, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
        compress: true,
      },
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
    });
    Validations.of(this.distribution).acknowledge(
      { id: 'AwsSolutions-CFR1', reason: 'The console is used from wherever the cloud\'s users are; a geo restriction is the operator\'s choice, as for the data front.' },
      { id: 'AwsSolutions-CFR2', reason: 'WAF is an account/edge concern with per-request cost (as for the REST API, APIG3); the distribution serves only static files, every API call is authorized by the API.' },
      { id: 'AwsSolutions-CFR3', reason: 'The distribution serves only the console\'s static build; the API calls it makes are logged by each function, so edge access logs (and their bucket) would add cost and resources and no audit.' },
      { id: 'AwsSolutions-CFR4', reason: 'The distribution uses its default *.cloudfront.net certificate, whose TLS policy CloudFront fixes; an operator with a custom domain sets TLSv1.2_2021 on it.' },
    );
    this.origin = `https://${this.distribution.distributionDomainName}`;
    this.url = `${this.origin}/${CONSOLE_PREFIX}/`;

    this.client = props.userPool.addClient('ConsoleClient', {
      userPoolClientName: `skyglass-${props.stage}-console`,
      // A browser cannot keep a secret: a public client, which Cognito holds to PKCE when the request carries a code_challenge.
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [this.url],
        logoutUrls: [this.url],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      // The console keeps no refresh token (its tokens live in memory only); the shortest Cognito allows.
      refreshTokenValidity: Duration.hours(1),
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true }),
    });

    // Vite names every built asset by its content hash (assets/index-<hash>.js): such a name never
    // changes its bytes, so browsers and the edge may keep it a year without asking again. Old
    // assets stay (no prune) for pages still open on the index.html that named them.
    this.assets = new s3deploy.BucketDeployment(this, 'Assets', {
      sources: [s3deploy.Source.asset(join(props.assetDir, CONSOLE_ASSETS))],
      destinationBucket: this.bucket,
      destinationKeyPrefix: `${CONSOLE_PREFIX}/${CONSOLE_ASSETS}/`,
      cacheControl: [s3deploy.CacheControl.setPublic(), s3deploy.CacheControl.maxAge(Duration.days(365)), s3deploy.CacheControl.immutable()],
      prune: false,
      memoryLimit: 256,
    });

    // index.html and config.json (the console's settings at run time: console/src/session.ts reads
    // /console/config.json) name what is current: browsers revalidate them, and the deployment
    // invalidates the edge. Deployed after the assets they name; their prune leaves assets/ alone.
    this.deployment = new s3deploy.BucketDeployment(this, 'Files', {
      sources: [
        s3deploy.Source.asset(props.assetDir, { exclude: [`${CONSOLE_ASSETS}/**`] }),
        s3deploy.Source.jsonData('config.json', {
          signIn: 'cognito',
          apiUrl: props.api.url,
          cognito: { domain: signInOrigin, clientId: this.client.userPoolClientId, redirectUri: this.url, scopes: ['openid', 'email', 'profile'] },
          claims: props.claims,
        }),
      ],
      destinationBucket: this.bucket,
      destinationKeyPrefix: `${CONSOLE_PREFIX}/`,
      exclude: [`${CONSOLE_ASSETS}/*`],
      cacheControl: [s3deploy.CacheControl.noCache()],
      distribution: this.distribution,
      distributionPaths: [`/${CONSOLE_PREFIX}/*`],
      memoryLimit: 256,
    });
    this.deployment.node.addDependency(this.assets);

    // The image bucket's CORS names the distribution's domain, and the distribution's CSP names the
    // bucket: set in the template, one would wait on the other (a cycle). So one custom resource
    // writes the rule once both exist: exactly the console's origin, part PUTs, their ETag readable.
    const cors = new cr.AwsCustomResource(this, 'ImageBucketCors', {
      onUpdate: {
        service: 'S3',
        action: 'putBucketCors',
        parameters: {
          Bucket: props.imageBucket.bucketName,
          CORSConfiguration: {
            CORSRules: [{ AllowedOrigins: [this.origin], AllowedMethods: ['PUT'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 3600 }],
          },
        },
        physicalResourceId: cr.PhysicalResourceId.of(`${props.imageBucket.bucketName}-console-cors`),
      },
      onDelete: { service: 'S3', action: 'deleteBucketCors', parameters: { Bucket: props.imageBucket.bucketName } },
      // IAM has one action for writing and deleting a bucket's CORS.
      policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['s3:PutBucketCORS'], resources: [props.imageBucket.bucketArn] })]),
      installLatestAwsSdk: false,
    });
    this.imageBucketCors = cors;

    // CDK's own providers behind the two custom resources (one per stack, at its root): their
    // roles and policies are CDK's, run only during deployments, and touch only what is named.
    const basicRole = 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';
    const consoleObjects = `<${stack.getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*`;
    for (const provider of stack.node.children) {
      if (provider.node.id.startsWith('Custom::CDKBucketDeployment')) {
        const why = "CDK's BucketDeployment provider (run only while CloudFormation deploys the console's files) grants itself read of the stack's asset objects, write under the console bucket, and CloudFront invalidations, which CDK grants on *.";
        Validations.of(provider).acknowledge(
          { id: basicRole, reason: "CDK's BucketDeployment provider logs through AWSLambdaBasicExecutionRole; it runs only while CloudFormation deploys the console's files." },
          ...['Action::s3:GetBucket*', 'Action::s3:GetObject*', 'Action::s3:List*', 'Action::s3:Abort*', 'Action::s3:DeleteObject*', 'Resource::*', `Resource::${consoleObjects}`, 'Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*'].map(
            (finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason: why }),
          ),
          { id: 'AwsSolutions-L1', reason: "The runtime of CDK's BucketDeployment provider is pinned by aws-cdk-lib (a Python runtime with the AWS CLI layer); it moves with aws-cdk-lib upgrades." },
        );
      }
      if (provider.node.id === 'AWS679f53fac002430cb0da5b7982bd2287') {
        Validations.of(provider).acknowledge({
          id: basicRole,
          reason: "CDK's AwsCustomResource provider logs through AWSLambdaBasicExecutionRole; it runs only during deployments, and its one grant is s3:PutBucketCORS on the image bucket.",
        });
      }
    }
  }
}
