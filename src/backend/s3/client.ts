// S3Client construction: endpoint, region, addressing style, credentials, HTTP agents.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { Logger as SdkLogger } from '@smithy/types';
import type { S3Options } from '../../config/s3-options.js';
import { isAnonymousIdentity, resolveCredentials, type CredentialMode } from './credentials.js';
import { md5Of } from './metadata.js';

export interface ClientExtras {
  /** custom DNS resolution for the agents (tests use it to reach virtual-hosted bucket names) */
  lookup?: http.AgentOptions['lookup'];
  /** sockets per agent; 64 by default so upload_concurrency × transfers never queue on sockets */
  maxSockets?: number;
  /** environment to read credentials and AWS_CA_BUNDLE from (defaults to process.env) */
  env?: NodeJS.ProcessEnv;
  log?: { notice: (m: string) => void; info: (m: string) => void; debug: (m: string) => void };
}

export interface BuiltClient {
  client: S3Client;
  credentials: CredentialMode;
  /** endpoint as shown in error messages */
  endpointLabel: string;
  agents: { http: http.Agent; https: https.Agent };
}

/** rclone (aws-sdk-go) adds https:// to an endpoint without a scheme. */
export function normalizeEndpoint(endpoint: string): string {
  const e = endpoint.trim();
  if (e === '') return '';
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `https://${e}`;
}

/**
 * Extra trust roots from AWS_CA_BUNDLE, as the AWS SDKs honour it, for https endpoints only: a
 * plain http:// endpoint never reads it, so a stale or wrong bundle path cannot break it.
 */
function caBundle(env: NodeJS.ProcessEnv, log?: ClientExtras['log']): string[] | undefined {
  const file = env.AWS_CA_BUNDLE;
  if (!file) return undefined;
  try {
    const pem = readFileSync(file, 'utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
    return [...tls.rootCertificates, pem];
  } catch (err) {
    log?.notice(`AWS_CA_BUNDLE=${file} ignored: ${(err as Error).message}`);
    return undefined;
  }
}

export function buildClient(opts: S3Options, extras: ClientExtras = {}): BuiltClient {
  if (opts.v2_auth || opts.region === 'other-v2-signature') {
    throw new Error('v2_auth / region "other-v2-signature": v2 signatures are not supported (the AWS SDK signs with v4 only)');
  }
  const env = extras.env ?? process.env;
  const endpoint = normalizeEndpoint(opts.endpoint);
  const isHttps = endpoint === '' || endpoint.toLowerCase().startsWith('https:');
  const maxSockets = extras.maxSockets ?? 64;
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets, lookup: extras.lookup });
  const httpsAgent = new https.Agent({
    keepAlive: true,
    maxSockets,
    lookup: extras.lookup,
    ...(isHttps ? { ca: caBundle(env, extras.log) } : {}),
  });
  const credentials = resolveCredentials(opts, env, extras.log);
  // rclone signs for us-east-1 when no region is given (Ceph & co. accept any region)
  const region = opts.region || 'us-east-1';

  const config: S3ClientConfig = {
    region,
    forcePathStyle: opts.force_path_style,
    useAccelerateEndpoint: opts.use_accelerate_endpoint || undefined,
    // one retry budget, ours (retry.ts)
    maxAttempts: 1,
    // resolve the middleware stack once per command type, not on every request (a HEAD storm
    // of `ls -l` sends thousands); nothing changes the stack after construction
    cacheMiddleware: true,
    // S3 clones (and rclone) know nothing of the new default CRC32 trailers
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent, httpsAgent, connectionTimeout: 60_000, requestTimeout: 300_000 },
    // Without a logger of its own the SDK writes some warnings to the console ("An error was
    // encountered in a non-retryable streaming request."): ours sends them to the debug log.
    logger: sdkLogger(extras.log),
  };
  if (endpoint) config.endpoint = endpoint;
  if (credentials.mode === 'static') config.credentials = credentials.credentials;
  else if (credentials.mode === 'env') config.credentials = credentials.provider;
  else {
    // Anonymous: both auth schemes S3 may pick sign nothing, so no Authorization header is sent
    // and no credential chain is consulted.
    const noSign = { sign: async <R>(request: R) => request };
    const noIdentity = () => async () => ({});
    config.httpAuthSchemes = [
      { schemeId: 'aws.auth#sigv4', identityProvider: noIdentity, signer: noSign },
      { schemeId: 'aws.auth#sigv4a', identityProvider: noIdentity, signer: noSign },
    ] as unknown as S3ClientConfig['httpAuthSchemes'];
  }
  const client = new S3Client(config);
  if (credentials.mode === 'env') sendUnsignedWhenAnonymous(client);
  addContentMd5ForDeleteObjects(client);
  return {
    client,
    credentials,
    endpointLabel: endpoint || `s3.${region}.amazonaws.com`,
    agents: { http: httpAgent, https: httpsAgent },
  };
}

/**
 * The SDK's logger interface over ours: warnings and errors the SDK reports itself go to the debug
 * log, one line each; its info/debug/trace chatter (request and response dumps) is dropped. A
 * failed request's report is reduced to the command and the error: its input may hold secrets
 * (the log redacts those it knows, but an SSE-C key is better never formatted at all), and the
 * error is reported by our callers anyway.
 */
export function sdkLogger(log?: { debug: (m: string) => void }): SdkLogger {
  const drop = () => {};
  const one = (a: unknown): string => {
    if (typeof a === 'string') return a;
    const r = a as { commandName?: unknown; error?: { name?: unknown; message?: unknown } } | null;
    if (r && typeof r === 'object' && typeof r.commandName === 'string') {
      return r.error ? `${r.commandName}: ${String(r.error.name)}: ${String(r.error.message)}` : r.commandName;
    }
    return inspect(a, { breakLength: Infinity, depth: 1 });
  };
  const toDebug =
    (level: string) =>
    (...args: unknown[]) => {
      // a HEAD answered 404 is an existence check answered "no": nothing went wrong
      if (args.some(isExistenceCheck)) return;
      log?.debug(`aws-sdk ${level}: ${args.map(one).join(' ').split('\n')[0]}`);
    };
  return { trace: drop, debug: drop, info: drop, warn: toDebug('warn'), error: toDebug('error') };
}

function isExistenceCheck(a: unknown): boolean {
  const r = a as { commandName?: unknown; error?: { name?: unknown } } | null;
  return !!r && typeof r === 'object' && r.commandName === 'HeadObjectCommand' && (r.error?.name === 'NotFound' || r.error?.name === 'NoSuchKey');
}

type Signer = { sign: (request: unknown, identity: unknown, props: unknown) => Promise<unknown> };

/**
 * env_auth resolves to an empty identity when nothing provides credentials (credentials.ts):
 * requests are then sent unsigned, as with blank keys. Each auth scheme's signer is wrapped (the
 * original stays the prototype, so its clock-skew handlers still apply).
 */
function sendUnsignedWhenAnonymous(client: S3Client): void {
  const schemes = (client.config as unknown as { httpAuthSchemes?: Array<{ signer: Signer }> }).httpAuthSchemes ?? [];
  for (const scheme of schemes) {
    const real = scheme.signer;
    const wrapped = Object.create(real) as Signer;
    wrapped.sign = (request, identity, props) => (isAnonymousIdentity(identity) ? Promise.resolve(request) : real.sign(request, identity, props));
    scheme.signer = wrapped;
  }
}

/**
 * DeleteObjects requires a body checksum. The SDK now sends CRC32 only; MinIO, Ceph and other
 * clones (and rclone, through aws-sdk-go) use Content-MD5, so add it.
 */
function addContentMd5ForDeleteObjects(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = args.request as { headers?: Record<string, string>; body?: unknown };
      if (context.commandName === 'DeleteObjectsCommand' && req.headers && (typeof req.body === 'string' || req.body instanceof Uint8Array)) {
        const body = typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
        req.headers['content-md5'] = md5Of(body).toString('base64');
      }
      return next(args);
    },
    { step: 'build', name: 'bucketfsContentMd5', priority: 'low' },
  );
}
