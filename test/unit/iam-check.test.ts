import { describe, expect, it } from 'vitest';
import type { AwsCallRecord } from '../../shared/adapters/aws-call-log.js';
import { checkCalls, isAllowed, requiredPermissions, type PolicyStatement } from '../iam/iam-check.js';

const scope = { partition: 'aws', region: 'us-east-1', account: '000000000000' };
const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/images';
const BUCKET = 'arn:aws:s3:::data';
const call = (fn: string | null, service: AwsCallRecord['service'], command: string, params: Record<string, unknown>): AwsCallRecord => ({ kind: 'call', fn, service, command, params });

/** The grants of a sweep role as the stack writes them (table items, two named indexes, image objects, listing under images/). */
const SWEEP_GRANTS: PolicyStatement[] = [
  { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: [TABLE] },
  { Effect: 'Allow', Action: ['dynamodb:Query'], Resource: [`${TABLE}/index/all`, `${TABLE}/index/byStatus`] },
  { Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:DeleteObject'], Resource: [`${BUCKET}/images/*`] },
  { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [BUCKET], Condition: { StringLike: { 's3:prefix': ['images/*'] } } },
  { Effect: 'Allow', Action: ['xray:PutTraceSegments'], Resource: ['*'] },
];
const grants = new Map([['sweep', SWEEP_GRANTS]]);

describe('the IAM check of recorded calls', () => {
  it('catches a call the role is not granted: a Scan of the table by a role that may only Query two indexes', () => {
    const violations = checkCalls([call('sweep', 'dynamodb', 'Scan', { TableName: 'images' })], grants, scope);
    expect(violations).toEqual([
      { fn: 'sweep', call: 'dynamodb:Scan {"TableName":"images"}', reason: `sweep's role is not granted dynamodb:Scan on ${TABLE}` },
    ]);
  });

  it('passes what the role is granted, resource by resource', () => {
    const allowed = [
      call('sweep', 'dynamodb', 'Query', { TableName: 'images', IndexName: 'byStatus' }),
      call('sweep', 'dynamodb', 'GetItem', { TableName: 'images' }),
      call('sweep', 's3', 'DeleteObject', { Bucket: 'data', Key: 'images/1/2' }),
      call('sweep', 's3', 'ListObjectsV2', { Bucket: 'data', Prefix: 'images/1/' }),
    ];
    expect(checkCalls(allowed, grants, scope)).toEqual([]);
  });

  it('checks the index a Query names, the key an object call names and the prefix a listing names', () => {
    const refused = [
      call('sweep', 'dynamodb', 'Query', { TableName: 'images', IndexName: 'byOwner' }),
      call('sweep', 'dynamodb', 'Query', { TableName: 'images' }),
      call('sweep', 'dynamodb', 'GetItem', { TableName: 'other' }),
      call('sweep', 's3', 'DeleteObject', { Bucket: 'data', Key: 'elsewhere/x' }),
      call('sweep', 's3', 'ListObjectsV2', { Bucket: 'data', Prefix: '' }),
      call('sweep', 's3', 'ListObjectsV2', { Bucket: 'data' }),
      call('sweep', 's3', 'GetObject', { Bucket: 'data', Key: 'images/1/2' }),
    ];
    const reasons = checkCalls(refused, grants, scope).map((v) => v.reason);
    expect(reasons).toEqual([
      `sweep's role is not granted dynamodb:Query on ${TABLE}/index/byOwner`,
      `sweep's role is not granted dynamodb:Query on ${TABLE}`,
      "sweep's role is not granted dynamodb:GetItem on arn:aws:dynamodb:us-east-1:000000000000:table/other",
      `sweep's role is not granted s3:DeleteObject on ${BUCKET}/elsewhere/x`,
      `sweep's role is not granted s3:ListBucket on ${BUCKET} with {"s3:prefix":""}`,
      `sweep's role is not granted s3:ListBucket on ${BUCKET} with {"s3:prefix":""}`,
      `sweep's role is not granted s3:GetObject on ${BUCKET}/images/1/2`,
    ]);
  });

  it('refuses calls it cannot attribute to a function, or translate into IAM, rather than pass them', () => {
    const violations = checkCalls(
      [
        call(null, 'dynamodb', 'GetItem', { TableName: 'images' }),
        call('nobody', 'dynamodb', 'GetItem', { TableName: 'images' }),
        call('sweep', 's3', 'PutBucketPolicy', { Bucket: 'data' }),
        call('sweep', 'dynamodb', 'GetItem', {}),
      ],
      grants,
      scope,
    );
    expect(violations.map((v) => v.reason)).toEqual([
      expect.stringContaining('outside any function invocation'),
      'no function nobody in the stack',
      expect.stringContaining('no IAM mapping for this S3 operation'),
      'dynamodb:GetItem carries no TableName',
    ]);
  });

  it('maps calls to the actions IAM requires: multipart steps and presigned parts are s3:PutObject, ListParts is ListMultipartUploadParts', () => {
    const action = (command: string) => requiredPermissions(call('f', 's3', command, { Bucket: 'data', Key: 'images/k' }), scope).map((p) => p.action);
    expect(['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload', 'PutObject'].flatMap(action)).toEqual(Array(4).fill('s3:PutObject'));
    expect(action('ListParts')).toEqual(['s3:ListMultipartUploadParts']);
    expect(action('HeadObject')).toEqual(['s3:GetObject']);
    expect(requiredPermissions(call('f', 'states', 'StopExecution', { executionArn: 'arn:aws:states:us-east-1:0:execution:m:e' }), scope)).toEqual([
      { action: 'states:StopExecution', resource: 'arn:aws:states:us-east-1:0:execution:m:e', context: {} },
    ]);
    expect(requiredPermissions(call('f', 'events', 'PutEvents', { EventBusNames: ['bus', 'bus'] }), scope)).toEqual([
      { action: 'events:PutEvents', resource: 'arn:aws:events:us-east-1:000000000000:event-bus/bus', context: {} },
    ]);
    expect(requiredPermissions(call('f', 'dynamodb', 'TransactWriteItems', { TransactItems: [{ op: 'Put', TableName: 'images' }, { op: 'ConditionCheck', TableName: 'images' }] }), scope).map((p) => p.action)).toEqual([
      'dynamodb:PutItem',
      'dynamodb:ConditionCheckItem',
    ]);
    // A stream ARN as an emulator reports it is rebuilt in the calls' region and account.
    expect(requiredPermissions(call('f', 'dynamodb', 'GetRecords', { StreamArn: 'arn:aws:dynamodb:ddblocal:000000000000:table/images/stream/2024' }), scope)).toEqual([
      { action: 'dynamodb:GetRecords', resource: `${TABLE}/stream/2024`, context: {} },
    ]);
  });

  it('evaluates wildcards, NotAction, Deny and unknown condition operators as IAM would (or more strictly)', () => {
    const get = { action: 's3:GetObject', resource: `${BUCKET}/images/a`, context: {} };
    expect(isAllowed([{ Effect: 'Allow', Action: 's3:Get*', Resource: `${BUCKET}/images/*` }], get)).toBe(true);
    expect(isAllowed([{ Effect: 'Allow', Action: 'S3:getobject', Resource: `${BUCKET}/images/?` }], get)).toBe(true);
    expect(isAllowed([{ Effect: 'Allow', Action: 's3:Get*', Resource: `${BUCKET}/IMAGES/*` }], get)).toBe(false);
    expect(isAllowed([{ Effect: 'Allow', NotAction: 's3:Put*', Resource: '*' }], get)).toBe(true);
    expect(isAllowed([{ Effect: 'Allow', Action: '*', Resource: '*' }, { Effect: 'Deny', Action: 's3:GetObject', Resource: '*' }], get)).toBe(false);
    expect(isAllowed([{ Effect: 'Allow', Action: '*', Resource: '*', Condition: { NumericLessThan: { 'aws:x': '1' } } }], get)).toBe(false);
    expect(isAllowed([], get)).toBe(false);
  });
});
