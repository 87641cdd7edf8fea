import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { INDEXES, SORT_TWIN_PROJECTION, STREAM_VIEW, TABLE_KEYS, TTL_ATTRIBUTE } from '../../shared/adapters/table-design.js';

export interface ImageTableProps {
  /**
   * Production keeps the table (RETAIN) and turns on deletion protection.
   * @default false
   */
  readonly production?: boolean;
  /**
   * How many of INDEXES, in order, to declare (CloudFormation adds one GSI per update).
   * @default all
   */
  readonly indexes?: number;
}

/**
 * The single DynamoDB table (images, members, tags, quotas, upload sessions, tasks), keyed as
 * `shared/adapters/table-design.ts` says so the local runtime creates the very same table.
 */
export class ImageTable extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ImageTableProps = {}) {
    super(scope, id);
    const production = props.production ?? false;
    const key = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: key(TABLE_KEYS.partitionKey),
      sortKey: key(TABLE_KEYS.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // The outbox's delivery (OUTBOX_ATTRIBUTE): the relay reads each written item from here.
      stream: dynamodb.StreamViewType[STREAM_VIEW],
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: production,
      removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of Object.values(INDEXES).slice(0, props.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: key(index.partitionKey),
        sortKey: key(index.sortKey),
        ...('projection' in index
          ? { projectionType: dynamodb.ProjectionType.INCLUDE, nonKeyAttributes: [...SORT_TWIN_PROJECTION] }
          : { projectionType: dynamodb.ProjectionType.ALL }),
      });
    }
  }
}
