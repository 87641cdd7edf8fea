import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AUTHORIZER_CACHE, DATA_FRONT } from '../../shared/routes.js';
import { bundleDataFront, DATA_FRONT_NODE_FLAGS } from '../bundling.js';
import { grantAccessTo, type AccessTargets } from './skyglass-function.js';

/** The port the front listens on in its container. */
export const DATA_FRONT_PORT = 8080;

/**
 * CloudFront waits this long for the front's first response byte. The front answers a PUT
 * /file after the last body byte, once the multipart upload is complete and the image active
 * (a CompleteMultipartUpload and one conditional write); 120 s is the highest value the
 * default quota allows (docs/data-front.md).
 */
const ORIGIN_READ_TIMEOUT = Duration.seconds(120);
/** Longer than CloudFront's read timeout, so the ALB never closes a connection CloudFront still waits on. */
const ALB_IDLE_TIMEOUT = Duration.seconds(180);
/** The front's VPC: nothing but the front runs in it. */
const VPC_CIDR = '10.80.0.0/16';
/** ECS's stop timeout for Fargate is at most 120 s: the front drains within it (SIGTERM, then SIGKILL). */
const STOP_TIMEOUT = Duration.seconds(120);

export interface DataFrontProps extends AccessTargets {
  readonly stage: string;
  /** The REST API every other route still reaches (CloudFront's default behavior). */
  readonly api: apigateway.RestApi;
  /** What the authorizer code reads (issuer, keys, claim names): the front runs the same authorizer. */
  readonly authorizerEnvironment: Record<string, string>;
  /**
   * As the API's: with caching on, X-Auth-Token is required (shared/routes.ts AUTHORIZER_CACHE).
   * @default AUTHORIZER_CACHE.defaultSeconds
   */
  readonly authorizerCacheSeconds?: number;
  /**
   * Production retains the front's log groups when the stack is deleted.
   * @default false
   */
  readonly production?: boolean;
  /** Where the front's alarms notify (the stack's alarm topic). */
  readonly alarmTopic?: sns.ITopic;
  /**
   * vCPU units of each task (1024 = 1 vCPU): hashing (MD5 and SHA-512 in one pass) is CPU-bound.
   * @default 1024
   */
  readonly cpu?: number;
  /**
   * Memory of each task; an upload holds about 5 parts of 8 MiB.
   * @default 2048
   */
  readonly memoryLimitMiB?: number;
  /**
   * Tasks at the least and the most (autoscaled on connections per task and CPU).
   * @default { min: 1, max: 4 }
   */
  readonly taskCount?: { readonly min: number; readonly max: number };
}

/**
 * The opt-in data front (`skyglass:dataFront=true`): PUT /file and PUT /stage of any size, which
 * API Gateway and Lambda cannot carry (about 4.5 MB), served by functions/data-front/server.ts on
 * ECS Fargate (ARM64) behind a private ALB, and one CloudFront distribution as the clients'
 * endpoint: the front's paths go to the ALB through a CloudFront VPC origin, every other path to
 * the REST API unchanged. The tasks have no public IP; they reach DynamoDB and S3 through gateway
 * endpoints, and the rest (ECR, CloudWatch Logs, the issuer's JWKS) through one NAT gateway.
 * The task role holds exactly DATA_FRONT.access (shared/routes.ts), mapped as the Lambdas' are.
 */
export class DataFront extends Construct {
  public readonly vpc: ec2.Vpc;
  public readonly cluster: ecs.Cluster;
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  public readonly container: ecs.ContainerDefinition;
  /** The role the front's code runs with. */
  public readonly taskRole: iam.Role;
  public readonly service: ecs.FargateService;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The clients' one endpoint. */
  public readonly distribution: cloudfront.Distribution;
  /** `https://<distribution domain>`: what clients use as the image endpoint. */
  public readonly url: string;
  public readonly logGroup: logs.LogGroup;
  /** By name: UnhealthyTasks, FrontErrors. */
  public readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;

  constructor(scope: Construct, id: string, props: DataFrontProps) {
    super(scope, id);
    const removalPolicy = props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const taskCount = props.taskCount ?? { min: 1, max: 4 };

    // --- network ---------------------------------------------------------------------------
    // Two AZs (an ALB needs two), private subnets for the ALB and the tasks, public ones only for
    // the NAT gateway. DynamoDB and S3 traffic (the bytes) takes the free gateway endpoints.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy });
    this.vpc.addFlowLog('FlowLog', { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.REJECT });

    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc: this.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });

    // --- the task ----------------------------------------------------------------------------
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy });
    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Task role of the skyglass-${props.stage} data front: ${DATA_FRONT.access.join(', ')}`,
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu ?? 1024,
      memoryLimitMiB: props.memoryLimitMiB ?? 2048,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.ARM64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      taskRole: this.taskRole,
    });
    const cacheSeconds = props.authorizerCacheSeconds ?? AUTHORIZER_CACHE.defaultSeconds;
    this.container = this.taskDefinition.addContainer('Front', {
      // Built by docker at deployment (cdk deploy publishes the asset); synthesis only bundles with esbuild.
      image: ecs.ContainerImage.fromAsset(frontAssetDirectory(Stack.of(this).bundlingRequired), { platform: Platform.LINUX_ARM64 }),
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'front', logGroup: this.logGroup }),
      portMappings: [{ containerPort: DATA_FRONT_PORT, protocol: ecs.Protocol.TCP }],
      readonlyRootFilesystem: true,
      stopTimeout: STOP_TIMEOUT,
      environment: {
        PORT: String(DATA_FRONT_PORT),
        SKYGLASS_STAGE: props.stage,
        AWS_REGION: Stack.of(this).region,
        AUTHORIZER_CACHE_SECONDS: String(cacheSeconds),
        // Node must keep idle connections longer than the ALB does, or the ALB reuses one the front is closing (a 502).
        KEEP_ALIVE_SECONDS: String(ALB_IDLE_TIMEOUT.toSeconds() + 5),
        // Uploads in flight get this long after SIGTERM, within ECS's stop timeout (then SIGKILL).
        STOP_GRACE_SECONDS: String(STOP_TIMEOUT.toSeconds() - 10),
        ...props.authorizerEnvironment,
      },
    });
    // The same mapping from access kinds to IAM actions (and environment) as every Lambda's.
    const container = this.container;
    const taskRole = this.taskRole;
    grantAccessTo(
      {
        node: this.node,
        role: taskRole,
        addToRolePolicy: (statement) => void taskRole.addToPrincipalPolicy(statement),
        addEnvironment: (name, value) => void container.addEnvironment(name, value),
      },
      DATA_FRONT.access,
      props,
    );
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds resource names and non-secret settings (table, bucket, issuer, claim names, policy overrides), as the Lambdas\' environments do; the front holds no secret (tokens are verified with public keys).',
    });
    const executionRole = this.taskDefinition.obtainExecutionRole();
    Validations.of(executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The execution role (image pull, log delivery) needs ecr:GetAuthorizationToken, which has no resource-level permissions; its other actions are on the asset repository and the front\'s log group, and no data grant ever goes to this role.',
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: taskCount.min,
      assignPublicIp: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { rollback: true },
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
    });

    // --- the load balancer -----------------------------------------------------------------
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      internetFacing: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      idleTimeout: ALB_IDLE_TIMEOUT,
      dropInvalidHeaderFields: true,
    });
    Validations.of(this.loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason:
        'The ALB is internal and reached only through CloudFront\'s VPC origin; every request it forwards is logged by the front (its own log group, one month), so ALB access logs (an S3 bucket of their own) would duplicate them.',
    });
    // Only from inside the VPC: CloudFront's VPC origin reaches the ALB through its own network
    // interfaces in these subnets. Nothing else runs in this VPC.
    this.loadBalancer.connections.allowFrom(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(80), 'CloudFront VPC origin');
    const listener = this.loadBalancer.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    this.targetGroup = listener.addTargets('Front', {
      port: DATA_FRONT_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service],
      healthCheck: { path: DATA_FRONT.healthPath, healthyHttpCodes: '200', interval: Duration.seconds(15), healthyThresholdCount: 2 },
      // A stopping task keeps its uploads for as long as ECS lets it run.
      deregistrationDelay: STOP_TIMEOUT,
    });

    // --- autoscaling -------------------------------------------------------------------------
    // An upload holds one connection for its whole length and keeps a task's CPU busy hashing,
    // so tasks follow the connections per task, and CPU as a backstop.
    const scaling = this.service.autoScaleTaskCount({ minCapacity: taskCount.min, maxCapacity: taskCount.max });
    const connectionsPerTask = new cloudwatch.MathExpression({
      expression: 'connections / MAX([tasks, 1])',
      usingMetrics: {
        connections: this.loadBalancer.metrics.activeConnectionCount({ period: Duration.minutes(1), statistic: cloudwatch.Stats.SUM }),
        tasks: new cloudwatch.Metric({
          namespace: 'ECS/ContainerInsights',
          metricName: 'RunningTaskCount',
          dimensionsMap: { ClusterName: this.cluster.clusterName, ServiceName: this.service.serviceName },
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.AVERAGE,
        }),
      },
      period: Duration.minutes(1),
      label: 'Active connections per task',
    });
    scaling.scaleOnMetric('Connections', {
      metric: connectionsPerTask,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      scalingSteps: [
        { upper: 4, change: -1 },
        { lower: 16, change: +1 },
        { lower: 48, change: +2 },
      ],
      cooldown: Duration.minutes(2),
    });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 70 });

    // --- the one endpoint ----------------------------------------------------------------------
    const behavior = {
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Every header (X-Auth-Token, Content-Type, x-openstack-image-size, Range...) and the query
      // string; not Host, which must name the origin (API Gateway routes by it).
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      // PUT and POST cannot follow a redirect to HTTPS, so plain HTTP is refused rather than redirected.
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      compress: false,
    } as const;
    const front = origins.VpcOrigin.withApplicationLoadBalancer(this.loadBalancer, {
      httpPort: 80,
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      readTimeout: ORIGIN_READ_TIMEOUT,
      keepaliveTimeout: Duration.seconds(60),
      vpcOriginName: `skyglass-${props.stage}-data-front`,
    });
    // API Gateway receives the origin's Host (its execute-api name); links it builds (version
    // discovery, Location) must name this endpoint instead, or a client following them leaves it.
    const viewerHost = new cloudfront.Function(this, 'ViewerHost', {
      comment: "Passes the viewer's Host to the REST API as X-Forwarded-Host, for the links it builds",
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(VIEWER_HOST_FUNCTION),
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Skyglass (${props.stage}): Glance Images API v2; data paths to the data front`,
      defaultBehavior: {
        origin: new origins.RestApiOrigin(props.api, { readTimeout: Duration.seconds(30) }),
        ...behavior,
        functionAssociations: [{ function: viewerHost, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      // CloudFront routes by path alone, so every method on these paths reaches the front (GET /file
      // too); the id is matched as 36 characters, so a tag or member named "file" stays with the API.
      additionalBehaviors: Object.fromEntries(DATA_FRONT.pathPatterns.map((pattern) => [pattern, { origin: front, ...behavior }])),
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2,
    });
    Validations.of(this.distribution).acknowledge(
      { id: 'AwsSolutions-CFR1', reason: 'Glance clients (Nova, CLIs, consoles) connect from wherever the cloud runs; a geo restriction is the operator\'s choice.' },
      { id: 'AwsSolutions-CFR2', reason: 'WAF is an account/edge concern with per-request cost (as for the REST API, APIG3); attach a web ACL at deployment where required.' },
      {
        id: 'AwsSolutions-CFR3',
        reason: 'Standard logs need an ACL-enabled S3 bucket; the REST API (its functions\' logs) and the data front (its own log group) log every request they answer.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason: 'The distribution uses its default *.cloudfront.net certificate, whose TLS policy CloudFront fixes; an operator with a custom domain sets TLSv1.2_2021 on it.',
      },
    );
    this.url = `https://${this.distribution.distributionDomainName}`;

    // --- alarms ------------------------------------------------------------------------------
    const unhealthy = new cloudwatch.Alarm(this, 'UnhealthyTasks', {
      alarmDescription: `skyglass-${props.stage}: a data front task fails the load balancer's health check`,
      metric: this.targetGroup.metrics.unhealthyHostCount({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const errors = new cloudwatch.Alarm(this, 'FrontErrors', {
      alarmDescription: `skyglass-${props.stage}: the data front answered 5xx (or the ALB could not reach it)`,
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(target, 0) + FILL(elb, 0)',
        usingMetrics: {
          target: this.targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
          elb: this.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        },
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarms = { UnhealthyTasks: unhealthy, FrontErrors: errors };
    if (props.alarmTopic) for (const alarm of Object.values(this.alarms)) alarm.addAlarmAction(new cloudwatchActions.SnsAction(props.alarmTopic));
  }
}

/**
 * The Docker build context of the front's image: the esbuild bundle (bundleDataFront) and a
 * small Dockerfile (Node 24 on ARM64). Bundled here, at synthesis, as NodejsFunction bundles the
 * Lambdas, so docker only copies one file in at deployment and `cdk synth` needs no docker.
 * Where bundling is skipped (`aws:cdk:bundling-stacks`), a placeholder stands in for the bundle.
 */
function frontAssetDirectory(bundle: boolean): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'skyglass-data-front-'));
  writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
  if (bundle) bundleDataFront(dir);
  else writeFileSync(path.join(dir, 'index.mjs'), '// Bundling skipped at synthesis (aws:cdk:bundling-stacks); cdk deploy bundles.\n');
  return dir;
}

/**
 * The viewer-request function of the REST API's behavior (CloudFront Functions, JavaScript 2.0):
 * the viewer's Host as X-Forwarded-Host, which shared/http/request.ts builds absolute links from.
 */
export const VIEWER_HOST_FUNCTION = `function handler(event) {
  var request = event.request;
  request.headers['x-forwarded-host'] = { value: request.headers.host.value };
  return request;
}
`;

const DOCKERFILE = `# The Skyglass data front: one esbuild bundle (infra/constructs/data-front.ts) on Node 24.
FROM public.ecr.aws/docker/library/node:24-alpine
ENV NODE_ENV=production PORT=${DATA_FRONT_PORT}
WORKDIR /app
COPY index.mjs ./
USER node
EXPOSE ${DATA_FRONT_PORT}
# Node is PID 1 and handles SIGTERM itself (the server drains its uploads, then exits).
CMD [${['node', ...DATA_FRONT_NODE_FLAGS, 'index.mjs'].map((arg) => JSON.stringify(arg)).join(', ')}]
`;
