// Which credentials the client signs with, decided as rclone decides it:
//
//  1. access_key_id + secret_access_key (+ session_token) from the options: static.
//  2. both blank and env_auth = true: a chain, first hit wins —
//     a. environment: AWS_ACCESS_KEY_ID (or AWS_ACCESS_KEY) + AWS_SECRET_ACCESS_KEY (or
//        AWS_SECRET_KEY), with AWS_SESSION_TOKEN;
//     b. the shared credentials file: shared_credentials_file, else AWS_SHARED_CREDENTIALS_FILE,
//        else ~/.aws/credentials; profile: profile, else AWS_PROFILE, else "default";
//     c. the SDK's default chain (web identity/EKS, SSO and ~/.aws/config profiles, ECS container
//        and EC2 instance metadata), as rclone lets the AWS SDK do.
//     If nothing provides credentials, S3 interaction is anonymous, as rclone's documentation
//     says ("If none of these option actually end up providing rclone with AWS credentials then
//     S3 interaction will be non-authenticated"): requests go unsigned, and an INFO line says so.
//  3. both blank, env_auth = false: anonymous, unsigned requests.
//  4. only one of the two keys set: an error, as rclone ("access_key_id not found").
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ini from 'ini';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { S3Options } from '../../config/s3-options.js';
import { addSecret } from '../../util/log.js';

export type CredentialMode =
  | { mode: 'static'; credentials: AwsCredentialIdentity }
  /** env_auth: `provider` yields ANONYMOUS (and `anonymous()` turns true) when nothing provides credentials */
  | { mode: 'env'; provider: AwsCredentialIdentityProvider; anonymous: () => boolean }
  | { mode: 'anonymous' };

/**
 * The identity env_auth resolves to when no source has credentials: empty keys, which the
 * client's signer (client.ts) takes as "send unsigned".
 */
export const ANONYMOUS: AwsCredentialIdentity = Object.freeze({ accessKeyId: '', secretAccessKey: '' });

export function isAnonymousIdentity(identity: unknown): boolean {
  const i = identity as Partial<AwsCredentialIdentity> | undefined;
  return !i || (!i.accessKeyId && !i.secretAccessKey);
}

export function fromEnvironment(env: NodeJS.ProcessEnv): AwsCredentialIdentity | null {
  const id = env.AWS_ACCESS_KEY_ID || env.AWS_ACCESS_KEY;
  const secret = env.AWS_SECRET_ACCESS_KEY || env.AWS_SECRET_KEY;
  if (!id || !secret) return null;
  return { accessKeyId: id, secretAccessKey: secret, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
}

export function sharedCredentialsFile(opts: Pick<S3Options, 'shared_credentials_file'>, env: NodeJS.ProcessEnv): string {
  return opts.shared_credentials_file || env.AWS_SHARED_CREDENTIALS_FILE || path.join(env.HOME || os.homedir(), '.aws', 'credentials');
}

export function credentialsProfile(opts: Pick<S3Options, 'profile'>, env: NodeJS.ProcessEnv): string {
  return opts.profile || env.AWS_PROFILE || 'default';
}

/** Credentials of `profile` in an AWS shared credentials file; null if the file or profile lacks them. */
export function fromSharedFile(file: string, profile: string): AwsCredentialIdentity | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const parsed = ini.parse(text) as Record<string, Record<string, unknown>>;
  // the credentials file names sections by the bare profile; accept "profile x" too, as the SDK does
  const sec = parsed[profile] ?? parsed[`profile ${profile}`];
  if (!sec || typeof sec !== 'object') return null;
  const id = typeof sec.aws_access_key_id === 'string' ? sec.aws_access_key_id.trim() : '';
  const secret = typeof sec.aws_secret_access_key === 'string' ? sec.aws_secret_access_key.trim() : '';
  if (!id || !secret) return null;
  const token = typeof sec.aws_session_token === 'string' ? sec.aws_session_token.trim() : '';
  return { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) };
}

function register(c: AwsCredentialIdentity): AwsCredentialIdentity {
  addSecret(c.secretAccessKey);
  addSecret(c.sessionToken);
  return c;
}

/** Decide the credential mode; throws for a half-configured key pair. */
export function resolveCredentials(
  opts: S3Options,
  env: NodeJS.ProcessEnv = process.env,
  log?: { info: (m: string) => void; debug: (m: string) => void },
): CredentialMode {
  const id = opts.access_key_id;
  const secret = opts.secret_access_key;
  if (id && secret) {
    return {
      mode: 'static',
      credentials: register({ accessKeyId: id, secretAccessKey: secret, ...(opts.session_token ? { sessionToken: opts.session_token } : {}) }),
    };
  }
  if (opts.env_auth) {
    let sdkChain: AwsCredentialIdentityProvider | undefined;
    let anonymous = false;
    const provider: AwsCredentialIdentityProvider = async () => {
      const fromEnv = fromEnvironment(env);
      if (fromEnv) return register(fromEnv);
      const file = sharedCredentialsFile(opts, env);
      const profile = credentialsProfile(opts, env);
      const fromFile = fromSharedFile(file, profile);
      if (fromFile) return register(fromFile);
      sdkChain ??= defaultProvider({ profile });
      try {
        return register(await sdkChain());
      } catch (err) {
        // The SDK memoizes an identity without expiry, so this is said once per client.
        log?.debug(`env_auth: SDK credential chain: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}`);
        log?.info(
          `env_auth: no credentials in the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), in ${file} [${profile}], or from the instance/container metadata: using anonymous access`,
        );
        anonymous = true;
        return ANONYMOUS;
      }
    };
    return { mode: 'env', provider, anonymous: () => anonymous };
  }
  if (!id && !secret) return { mode: 'anonymous' };
  throw new Error(id ? 'secret_access_key not found' : 'access_key_id not found');
}
