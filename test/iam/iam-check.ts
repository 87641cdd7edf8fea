/**
 * Checks recorded AWS calls (shared/adapters/aws-call-log.ts) against IAM policy statements, as
 * AWS would decide them: each call becomes the permissions IAM requires for it (action,
 * resource ARN, condition keys), and each permission must be allowed by some Allow statement
 * of the calling function's role and denied by none.
 *
 * A deliberately small evaluator for identity policies: Action/Resource with `*` and `?`
 * wildcards, NotAction/NotResource, and the String and Arn condition operators the stack uses.
 * Anything it does not understand counts as not allowed, so it can only be stricter than AWS.
 */
import type { AwsCallRecord } from '../../shared/adapters/aws-call-log.js';

/** What IAM evaluates for one request. */
export interface Permission {
  action: string;
  resource: string;
  /** Condition keys the request carries, e.g. `s3:prefix`; a multivalued one (`dynamodb:LeadingKeys`) as a list. */
  context: Record<string, string | string[]>;
}

/** An IAM statement whose CloudFormation values are resolved to plain strings. */
export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** Where ARNs are built: the partition, region and account the calls are made in. */
export interface ArnScope {
  partition: string;
  region: string;
  account: string;
}

/** A call IAM would refuse (or that the check cannot attribute or translate). */
export interface Violation {
  fn: string | null;
  call: string;
  reason: string;
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function wildcard(pattern: string, caseInsensitive: boolean): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
}

const actionMatches = (pattern: string, action: string) => wildcard(pattern, true).test(action);
const resourceMatches = (pattern: string, resource: string) => wildcard(pattern, false).test(resource);

/**
 * String and ARN operators (with their IfExists forms), and `ForAllValues:` of them on a
 * multivalued key; unknown operators never match. Stricter than IAM in one place: ForAllValues on
 * a key the request does not carry holds in IAM (nothing to test), and fails here, since every
 * recorded call that a ForAllValues grant covers must carry the key (a call whose keys the
 * recording could not read is refused, not waved through).
 */
function conditionHolds(operator: string, key: string, expected: string | string[], context: Record<string, string | string[]>): boolean {
  if (operator.startsWith('ForAllValues:')) {
    const values = context[key];
    if (values === undefined || (Array.isArray(values) && values.length === 0)) return false;
    return list(values).every((value) => conditionHolds(operator.slice('ForAllValues:'.length), key, expected, { [key]: value }));
  }
  const ifExists = operator.endsWith('IfExists');
  const op = ifExists ? operator.slice(0, -'IfExists'.length) : operator;
  const actual = context[key];
  if (actual === undefined) return ifExists;
  // A multivalued key needs a set operator (ForAllValues / ForAnyValue).
  if (Array.isArray(actual)) return false;
  const values = list(expected);
  switch (op) {
    case 'StringEquals':
    case 'ArnEquals':
      return values.includes(actual);
    case 'StringNotEquals':
    case 'ArnNotEquals':
      return !values.includes(actual);
    case 'StringEqualsIgnoreCase':
      return values.some((v) => v.toLowerCase() === actual.toLowerCase());
    case 'StringLike':
    case 'ArnLike':
      return values.some((v) => resourceMatches(v, actual));
    case 'StringNotLike':
    case 'ArnNotLike':
      return !values.some((v) => resourceMatches(v, actual));
    default:
      return false;
  }
}

function applies(statement: PolicyStatement, permission: Permission): boolean {
  const action = statement.Action !== undefined
    ? list(statement.Action).some((a) => actionMatches(a, permission.action))
    : statement.NotAction !== undefined && !list(statement.NotAction).some((a) => actionMatches(a, permission.action));
  if (!action) return false;
  const resource = statement.Resource !== undefined
    ? list(statement.Resource).some((r) => resourceMatches(r, permission.resource))
    : statement.NotResource !== undefined && !list(statement.NotResource).some((r) => resourceMatches(r, permission.resource));
  if (!resource) return false;
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
    Object.entries(keys).every(([key, expected]) => conditionHolds(operator, key, expected, permission.context)),
  );
}

/** IAM's decision for an identity policy: allowed if some Allow applies and no Deny does. */
export function isAllowed(statements: readonly PolicyStatement[], permission: Permission): boolean {
  if (statements.some((s) => s.Effect === 'Deny' && applies(s, permission))) return false;
  return statements.some((s) => s.Effect === 'Allow' && applies(s, permission));
}

/** The call could not be translated into IAM permissions: the check refuses it rather than guess. */
export class UnmappedCallError extends Error {}

const text = (value: unknown, field: string, call: string): string => {
  if (typeof value !== 'string' || value === '') throw new UnmappedCallError(`${call} carries no ${field}`);
  return value;
};

/** S3 API operations and the IAM action each needs; presigned URLs perform the same operations. */
const S3_OBJECT_ACTIONS: Record<string, string> = {
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  ListParts: 's3:ListMultipartUploadParts',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  DeleteObject: 's3:DeleteObject',
  GetObjectAttributes: 's3:GetObject',
};
const S3_BUCKET_ACTIONS: Record<string, string> = {
  ListObjectsV2: 's3:ListBucket',
  ListObjects: 's3:ListBucket',
  HeadBucket: 's3:ListBucket',
  ListMultipartUploads: 's3:ListBucketMultipartUploads',
};

/** Step Functions operations that act on an execution rather than on a state machine. */
const EXECUTION_COMMANDS = new Set(['StopExecution', 'DescribeExecution', 'GetExecutionHistory', 'RedriveExecution']);

const TRANSACT_ACTIONS: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };

/** The permissions IAM requires for one recorded call. */
export function requiredPermissions(call: AwsCallRecord, scope: ArnScope): Permission[] {
  const name = `${call.service}:${call.command}`;
  const p = call.params;
  const arn = (service: string, resource: string) => `arn:${scope.partition}:${service}:${scope.region}:${scope.account}:${resource}`;
  const one = (action: string, resource: string, context: Permission['context'] = {}): Permission[] => [{ action, resource, context }];
  switch (call.service) {
    case 'dynamodb': {
      const table = (tableName: unknown) => arn('dynamodb', `table/${text(tableName, 'TableName', name)}`);
      if (p.StreamArn !== undefined) {
        if (call.command === 'ListStreams') return one('dynamodb:ListStreams', '*');
        // Rebuilt in this scope: emulators report their own region in stream ARNs.
        const match = /:table\/([^/]+)\/stream\/(.+)$/.exec(text(p.StreamArn, 'StreamArn', name));
        if (!match) throw new UnmappedCallError(`${name}: not a stream ARN: ${String(p.StreamArn)}`);
        return one(`dynamodb:${call.command}`, arn('dynamodb', `table/${match[1]}/stream/${match[2]}`));
      }
      // The partition keys acted on, by kind (shared/adapters/aws-call-log.ts), for dynamodb:LeadingKeys.
      const leading = (keys: unknown): Record<string, string[]> => (Array.isArray(keys) ? { 'dynamodb:LeadingKeys': keys as string[] } : {});
      if (Array.isArray(p.TransactItems)) {
        return (p.TransactItems as Array<{ op: string; TableName?: string; LeadingKeys?: string[] }>).map(({ op, TableName, LeadingKeys }) => {
          const action = TRANSACT_ACTIONS[op];
          if (!action) throw new UnmappedCallError(`${name}: unknown transaction item ${op}`);
          return { action: `dynamodb:${action}`, resource: table(TableName), context: leading(LeadingKeys) };
        });
      }
      if (Array.isArray(p.Tables)) return (p.Tables as string[]).map((t) => ({ action: `dynamodb:${call.command}`, resource: table(t), context: leading(p.LeadingKeys) }));
      const resource = typeof p.IndexName === 'string' ? `${table(p.TableName)}/index/${p.IndexName}` : table(p.TableName);
      return one(`dynamodb:${call.command}`, resource, leading(p.LeadingKeys));
    }
    case 's3': {
      const bucket = text(p.Bucket, 'Bucket', name);
      // A server-side copy (whole, or one part of a multipart upload) writes the destination and reads the source (`bucket/key`).
      if (call.command === 'CopyObject' || call.command === 'UploadPartCopy') {
        return [
          { action: 's3:PutObject', resource: `arn:${scope.partition}:s3:::${bucket}/${text(p.Key, 'Key', name)}`, context: {} },
          { action: 's3:GetObject', resource: `arn:${scope.partition}:s3:::${decodeURIComponent(text(p.CopySource, 'CopySource', name))}`, context: {} },
        ];
      }
      const objectAction = S3_OBJECT_ACTIONS[call.command];
      if (objectAction) return one(objectAction, `arn:${scope.partition}:s3:::${bucket}/${text(p.Key, 'Key', name)}`);
      const bucketAction = S3_BUCKET_ACTIONS[call.command];
      if (bucketAction) return one(bucketAction, `arn:${scope.partition}:s3:::${bucket}`, { 's3:prefix': typeof p.Prefix === 'string' ? p.Prefix : '' });
      throw new UnmappedCallError(`${name}: no IAM mapping for this S3 operation; add it to test/iam/iam-check.ts`);
    }
    case 'states': {
      const resource = EXECUTION_COMMANDS.has(call.command) ? text(p.executionArn, 'executionArn', name) : text(p.stateMachineArn, 'stateMachineArn', name);
      return one(`states:${call.command}`, resource);
    }
    case 'events': {
      if (call.command !== 'PutEvents') throw new UnmappedCallError(`${name}: no IAM mapping for this EventBridge operation; add it to test/iam/iam-check.ts`);
      const buses = (p.EventBusNames as string[] | undefined) ?? ['default'];
      return [...new Set(buses)].map((bus) => ({ action: 'events:PutEvents', resource: bus.startsWith('arn:') ? bus : arn('events', `event-bus/${bus}`), context: {} }));
    }
    default:
      throw new UnmappedCallError(`${name}: unknown service`);
  }
}

const describe = (call: AwsCallRecord) => `${call.service}:${call.command} ${JSON.stringify(call.params)}`;

/**
 * Every call the statements of its function's role would not allow. `grants` maps each function
 * name (operationId, worker name, `authorizer`, `fallback`) to its role's statements.
 */
export function checkCalls(calls: readonly AwsCallRecord[], grants: ReadonlyMap<string, readonly PolicyStatement[]>, scope: ArnScope): Violation[] {
  const violations: Violation[] = [];
  for (const call of calls) {
    const where = { fn: call.fn, call: describe(call) };
    if (call.fn === null) {
      violations.push({ ...where, reason: 'made outside any function invocation: invoke handlers through runAsFunction (the local runtime does) so the call is checked' });
      continue;
    }
    const statements = grants.get(call.fn);
    if (!statements) {
      violations.push({ ...where, reason: `no function ${call.fn} in the stack` });
      continue;
    }
    let permissions: Permission[];
    try {
      permissions = requiredPermissions(call, scope);
    } catch (error) {
      if (!(error instanceof UnmappedCallError)) throw error;
      violations.push({ ...where, reason: error.message });
      continue;
    }
    for (const permission of permissions) {
      if (!isAllowed(statements, permission)) {
        const context = Object.keys(permission.context).length ? ` with ${JSON.stringify(permission.context)}` : '';
        violations.push({ ...where, reason: `${call.fn}'s role is not granted ${permission.action} on ${permission.resource}${context}` });
      }
    }
  }
  return violations;
}

/**
 * The grants no recorded call needed, per function: for review, not a failure (a path the
 * suites never take, a retry, an error branch may still need them).
 */
export function unusedGrants(calls: readonly AwsCallRecord[], grants: ReadonlyMap<string, readonly PolicyStatement[]>, scope: ArnScope): string[] {
  const unused: string[] = [];
  for (const [fn, statements] of grants) {
    const needed = calls.filter((c) => c.fn === fn).flatMap((c) => {
      try {
        return requiredPermissions(c, scope);
      } catch {
        return [];
      }
    });
    for (const statement of statements) {
      if (statement.Effect !== 'Allow') continue;
      for (const action of list(statement.Action)) {
        if (/^(logs|xray):/.test(action)) continue; // the runtime's own use, never a recorded call
        for (const resource of list(statement.Resource)) {
          const single: PolicyStatement = { ...statement, Action: [action], Resource: [resource] };
          if (!needed.some((permission) => isAllowed([single], permission))) unused.push(`${fn}: ${action} on ${resource}`);
        }
      }
    }
  }
  return unused;
}
