/** Configuration, read from the environment once per cold start. */
export interface Config {
  tableName: string;
  region: string;
  /** Set only where an emulator stands in for DynamoDB (the local runtime, LocalStack). */
  dynamodbEndpoint: string | undefined;
}

let cached: Config | undefined;

export function config(): Config {
  if (cached) return cached;
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set');
  cached = {
    tableName,
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    dynamodbEndpoint: process.env.DYNAMODB_ENDPOINT || undefined,
  };
  return cached;
}
