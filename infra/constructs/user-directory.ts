import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

export interface UserDirectoryProps {
  readonly stage: string;
  /**
   * Production keeps the pool (RETAIN) with deletion protection.
   * @default false
   */
  readonly production?: boolean;
}

/**
 * The default token issuer: a Cognito user pool whose users carry `custom:project_id` and
 * `custom:roles` (set by an administrator), and an app client for CLIs. The authorizer trusts
 * the pool's ID tokens (custom attributes appear only in ID tokens; their `aud` is the client id).
 */
export class UserDirectory extends Construct {
  public readonly userPool: cognito.UserPool;
  public readonly client: cognito.UserPoolClient;
  /** `https://cognito-idp.<region>.amazonaws.com/<pool id>`: the `iss` of the pool's tokens. */
  public readonly issuer: string;
  public readonly jwksUrl: string;

  constructor(scope: Construct, id: string, props: UserDirectoryProps) {
    super(scope, id);
    const production = props.production ?? false;

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `skyglass-${props.stage}`,
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      customAttributes: {
        project_id: new cognito.StringAttribute({ mutable: true, minLen: 1, maxLen: 255 }),
        roles: new cognito.StringAttribute({ mutable: true, maxLen: 2048 }),
      },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: production,
      removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.client = this.userPool.addClient('CliClient', {
      userPoolClientName: `skyglass-${props.stage}-cli`,
      generateSecret: false,
      // CLIs and services sign in with InitiateAuth (SRP, or the password for scripts) and use the
      // ID token; the stack has no Cognito domain, so OAuth flows (and CDK's default
      // https://example.com callback) could never be used: none is offered.
      authFlows: { userSrp: true, userPassword: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(1),
      // Users must never write their own project or roles (that would be privilege escalation);
      // only administrators set them, through AdminUpdateUserAttributes (IAM-authorized).
      writeAttributes: new cognito.ClientAttributes().withStandardAttributes({ email: true }),
    });

    const stack = Stack.of(this);
    this.issuer = `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${this.userPool.userPoolId}`;
    this.jwksUrl = `${this.issuer}/.well-known/jwks.json`;

    Validations.of(this.userPool).acknowledge(
      {
        id: 'AwsSolutions-COG2',
        reason:
          'MFA is OPTIONAL (TOTP) rather than REQUIRED: the pool also holds service accounts for Nova-like services and CI that obtain tokens non-interactively. Operators can require MFA per user.',
      },
      {
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus feature plan (threat protection) is a paid add-on; the default pool is a convenience issuer and production deployments may trust an external OIDC issuer instead.',
      },
    );
  }
}
