import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface ImageBucketProps {
  /**
   * Production keeps the bucket and its objects (RETAIN, no auto-delete).
   * @default false
   */
  readonly production?: boolean;
  /**
   * Days after which S3 aborts a multipart upload nobody completed (backstop for the sweeper).
   * @default 1
   */
  readonly abortIncompleteUploadsAfterDays?: number;
}

/**
 * What every private bucket of the stack shares (image data, the console's files): no public
 * access, bucket-owner objects, SSE-S3, TLS 1.2+ only, no versioning; kept in production.
 */
export function privateBucketProps(production: boolean): s3.BucketProps {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: false,
    removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    autoDeleteObjects: !production,
  };
}

/**
 * Image data. Private, SSE-S3, TLS-only; clients reach it only through presigned URLs. No CORS
 * rule in the template: the only browser client is the console, whose construct
 * (console-site.ts) writes the one rule it needs, for its own origin.
 */
export class ImageBucket extends Construct {
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ImageBucketProps = {}) {
    super(scope, id);
    const production = props.production ?? false;

    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...privateBucketProps(production),
      lifecycleRules: [
        {
          id: 'abort-incomplete-multipart-uploads',
          enabled: true,
          abortIncompleteMultipartUploadAfter: Duration.days(props.abortIncompleteUploadsAfterDays ?? 1),
        },
      ],
    });

    Validations.of(this.bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Objects are reached only through short-lived presigned URLs that the API issues to authorized callers (each API call is traced and logged). Object-level audit belongs to CloudTrail S3 data events at the account/organization level rather than a per-stack access-log bucket.',
    });
  }
}
