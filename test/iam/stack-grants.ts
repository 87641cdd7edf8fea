/**
 * What the synthesized stack grants each function, as plain IAM statements whose ARNs name the
 * resources the recorded calls used: the stack tells each function its resources' names through
 * environment variables (TABLE_NAME = Ref of the table, ...), and the recording says what those
 * variables held where the calls were made, so each resource's Ref and attributes resolve to
 * those names. A value that does not resolve becomes a string no ARN matches.
 */
import { NestedStack, Stack, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { RESOURCE_VARIABLES } from '../../shared/adapters/aws-call-log.js';
import { DATA_FRONT } from '../../shared/routes.js';
import { SEED_FUNCTION_NAME } from '../../infra/constructs/metadef-catalogue-seed.js';
import type { SkyglassStack } from '../../infra/stack.js';
import type { ArnScope, PolicyStatement } from './iam-check.js';
import { withParameters } from '../infra/nested-templates.js';

type Json = Record<string, any>; // CloudFormation fragments

export interface StackGrants {
  /** Role statements by function name: operationId, worker name, `authorizer`, `fallback`, and the data front's. */
  grants: Map<string, PolicyStatement[]>;
  scope: ArnScope;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every function of the stack by the name the local runtime invokes it under. */
export function stackFunctions(stack: SkyglassStack): Map<string, IConstruct> {
  return new Map<string, IConstruct>([
    ...Object.entries(stack.functions),
    ...Object.entries(stack.workers),
    ['authorizer', stack.authorizerFunction],
    ['fallback', stack.fallbackFunction],
    // The metadefs catalogue's deploy-time seed, in the metadefs room.
    ...(stack.imageApi.catalogueSeed ? [[SEED_FUNCTION_NAME, stack.imageApi.catalogueSeed.function] as const] : []),
  ]);
}

/**
 * Every identity of the stack by the name its calls are recorded under: the functions, and the
 * data front's task (DATA_FRONT.name) when the stack has it. Each has a role and the variables
 * it is told its resources' names by (a function's environment, the front container's).
 */
export function stackPrincipals(stack: SkyglassStack): Map<string, IConstruct> {
  const principals = stackFunctions(stack);
  if (stack.dataFront) principals.set(DATA_FRONT.name, stack.dataFront.taskDefinition);
  return principals;
}

/** The logical id of the principal's role and its resource-name variables, from the template. */
function principalOf(resource: Json): { roleId: string; variables: Json } {
  if (resource.Type === 'AWS::ECS::TaskDefinition') {
    const containers = asArray(resource.Properties.ContainerDefinitions as Json[]);
    const variables = Object.fromEntries(containers.flatMap((c) => asArray(c.Environment as Json[])).map((e) => [e.Name as string, e.Value]));
    return { roleId: resource.Properties.TaskRoleArn['Fn::GetAtt'][0] as string, variables };
  }
  return { roleId: resource.Properties.Role['Fn::GetAtt'][0] as string, variables: (resource.Properties.Environment?.Variables ?? {}) as Json };
}

/** A synthesized template: the parent's, or a route room's (a nested stack, whose references to the parent are Parameters). */
export type TemplateOf = (stack: Stack) => { Resources: Record<string, Json> };

/**
 * `templateOf` gives each stack's template: the parent's and its nested stacks' (route rooms),
 * whose functions are resolved as the parent's are, through the Parameters the parent passes
 * them (a nested `Ref` to a Parameter is the parent's value for it).
 */
export function stackGrants(stack: SkyglassStack, templateOf: TemplateOf, environment: Record<string, string>): StackGrants {
  const resources = templateOf(stack).Resources;
  const located = (c: IConstruct) => {
    const at = Stack.of(c);
    return { at, resource: templateOf(at).Resources[at.getLogicalId(c.node.defaultChild as CfnElement)]! };
  };
  /** A nested stack's value as its parent writes it: Refs to its Parameters replaced, up to this stack. */
  const toParent = (at: Stack, value: unknown): unknown => {
    if (at === stack || !NestedStack.isNestedStack(at)) return value;
    const above = Stack.of(at.node.scope!);
    const parameters = (templateOf(above).Resources[above.getLogicalId(at.nestedStackResource as CfnElement)]!.Properties.Parameters ?? {}) as Json;
    return toParent(above, withParameters(value, parameters));
  };
  const principals = new Map(
    [...stackPrincipals(stack)].map(([name, c]) => {
      const { at, resource } = located(c);
      const principal = principalOf(resource);
      return [name, { ...principal, at, variables: toParent(at, principal.variables) as Json }];
    }),
  );

  // Logical id → what its Ref is where the calls were made, from the variables both sides set.
  const refs = new Map<string, string>();
  for (const { variables } of principals.values()) {
    for (const name of RESOURCE_VARIABLES) {
      const ref = variables[name]?.Ref as string | undefined;
      if (ref && environment[name]) refs.set(ref, environment[name]);
    }
  }
  const machineArn = environment.VERIFIER_STATE_MACHINE_ARN ?? environment.SCRUBBER_STATE_MACHINE_ARN;
  const scope: ArnScope = {
    partition: 'aws',
    region: environment.AWS_REGION ?? 'us-east-1',
    account: machineArn?.split(':')[4] ?? '000000000000',
  };
  const arn = (service: string, resource: string) => `arn:${scope.partition}:${service}:${scope.region}:${scope.account}:${resource}`;
  const unresolved = (value: unknown) => `<unresolved ${JSON.stringify(value)}>`;

  const attribute = (id: string, name: string): string => {
    const ref = refs.get(id);
    const type = resources[id]?.Type as string | undefined;
    if (ref === undefined) return unresolved({ 'Fn::GetAtt': [id, name] });
    switch (`${type}.${name}`) {
      case 'AWS::DynamoDB::Table.Arn':
        return arn('dynamodb', `table/${ref}`);
      case 'AWS::DynamoDB::Table.StreamArn':
        // The stream's label is DynamoDB's choice: the table has one stream.
        return arn('dynamodb', `table/${ref}/stream/*`);
      case 'AWS::S3::Bucket.Arn':
        return `arn:${scope.partition}:s3:::${ref}`;
      case 'AWS::StepFunctions::StateMachine.Name':
        return ref.split(':').pop() ?? unresolved(id);
      case 'AWS::StepFunctions::StateMachine.Arn':
        return ref;
      case 'AWS::Events::EventBus.Arn':
        return arn('events', `event-bus/${ref}`);
      default:
        return unresolved({ 'Fn::GetAtt': [id, name] });
    }
  };

  const resolve = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const v = value as Json;
    if (typeof v.Ref === 'string') {
      switch (v.Ref) {
        case 'AWS::Partition':
          return scope.partition;
        case 'AWS::Region':
          return scope.region;
        case 'AWS::AccountId':
          return scope.account;
        case 'AWS::URLSuffix':
          return 'amazonaws.com';
        default:
          return refs.get(v.Ref) ?? unresolved(v);
      }
    }
    if (Array.isArray(v['Fn::GetAtt'])) return attribute(v['Fn::GetAtt'][0] as string, v['Fn::GetAtt'][1] as string);
    if (Array.isArray(v['Fn::Join'])) return (v['Fn::Join'][1] as unknown[]).map(resolve).join(v['Fn::Join'][0] as string);
    return unresolved(v);
  };

  const resolveStatement = (s: Json): PolicyStatement => ({
    Effect: s.Effect,
    ...(s.Action !== undefined && { Action: asArray(s.Action).map(resolve) }),
    ...(s.NotAction !== undefined && { NotAction: asArray(s.NotAction).map(resolve) }),
    ...(s.Resource !== undefined && { Resource: asArray(s.Resource).map(resolve) }),
    ...(s.NotResource !== undefined && { NotResource: asArray(s.NotResource).map(resolve) }),
    ...(s.Condition !== undefined && {
      Condition: Object.fromEntries(
        Object.entries(s.Condition as Json).map(([op, keys]) => [op, Object.fromEntries(Object.entries(keys as Json).map(([k, vs]) => [k, asArray(vs).map(resolve)]))]),
      ),
    }),
  });

  const grants = new Map<string, PolicyStatement[]>();
  for (const [name, { roleId, at }] of principals) {
    const own = templateOf(at).Resources;
    const role = own[roleId]!;
    if (asArray(role.Properties.ManagedPolicyArns).length > 0) throw new Error(`${name}: managed policies are not resolved here; the check would not see them`);
    const statements: Json[] = asArray(role.Properties.Policies as Json[]).flatMap((p) => p.PolicyDocument.Statement as Json[]);
    for (const policy of Object.values(own)) {
      if (policy.Type !== 'AWS::IAM::Policy') continue;
      if (asArray(policy.Properties.Roles as Json[]).some((r) => r.Ref === roleId)) statements.push(...(policy.Properties.PolicyDocument.Statement as Json[]));
    }
    // A room's statements name the parent's resources through Parameters: resolved as the parent's.
    grants.set(name, statements.map((s) => resolveStatement(toParent(at, s) as Json)));
  }
  return { grants, scope };
}
