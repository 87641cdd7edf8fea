import { createHash, createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * Cold-import floor (bench section 2): the least any function that calls AWS must load, which
 * is Node's HTTPS client and its crypto. It signs one DynamoDB GetItem with SigV4 by hand and
 * sends it, with no SDK at all. A reference for the bench only, never shipped: what it costs
 * over bare node is what no AWS client library, however small, can get under.
 */
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export const handler = async (): Promise<unknown> => {
  const region = process.env.AWS_REGION ?? 'us-east-1';
  const endpoint = new URL(process.env.DYNAMODB_ENDPOINT ?? `https://dynamodb.${region}.amazonaws.com/`);
  const body = JSON.stringify({ TableName: process.env.TABLE_NAME, Key: { pk: { S: 'IMAGE#floor' } } });
  const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
  const scope = `${amzDate.slice(0, 8)}/${region}/dynamodb/aws4_request`;
  const canonical = ['POST', '/', '', `host:${endpoint.host}`, `x-amz-date:${amzDate}`, '', 'host;x-amz-date', sha256(body)].join('\n');
  let key = hmac(`AWS4${process.env.AWS_SECRET_ACCESS_KEY}`, amzDate.slice(0, 8));
  for (const part of [region, 'dynamodb', 'aws4_request']) key = hmac(key, part);
  const signature = hmac(key, ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n')).toString('hex');
  const headers = {
    'content-type': 'application/x-amz-json-1.0',
    'x-amz-target': 'DynamoDB_20120810.GetItem',
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
  };
  const send = endpoint.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = send(endpoint, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    req.end(body);
  });
};
