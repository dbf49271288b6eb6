// Which remotes exist and what type they are. A remote is defined by a `[name]` section of
// rclone.conf or, as in rclone, by the environment alone (RCLONE_CONFIG_<NAME>_TYPE=s3);
// its type can also be given in a connection string (`name,type=s3:`).
import { loadConfig, type ConfigFileContext, type LoadedConfig } from './config-file.js';

export interface RemoteInfo {
  name: string;
  type: string;
  /** Where the type came from: rclone's lookup order for `type` is connection string > env > file. */
  definedBy: 'connection-string' | 'env' | 'config';
}

/** `RCLONE_CONFIG_<NAME>_<KEY>`: rclone upper-cases the remote name and keeps its dashes. */
export function remoteEnvKey(remote: string, key: string): string {
  return `RCLONE_CONFIG_${remote.toUpperCase()}_${key.toUpperCase()}`;
}

/** The type of a named remote, or undefined when it is not defined anywhere. */
export function findRemoteType(name: string, config: LoadedConfig, env: NodeJS.ProcessEnv, params: Record<string, string> = {}): RemoteInfo | undefined {
  if (params.type) return { name, type: params.type, definedBy: 'connection-string' };
  const fromEnv = env[remoteEnvKey(name, 'type')];
  if (fromEnv) return { name, type: fromEnv, definedBy: 'env' };
  const fromFile = config.sections[name]?.type;
  if (fromFile) return { name, type: fromFile, definedBy: 'config' };
  return undefined;
}

const ENV_REMOTE = /^RCLONE_CONFIG_(.+)_TYPE$/;

/**
 * All remotes of every type, config-file sections first (in file order), then remotes defined
 * only by the environment (named in lower case, since the variable name has lost the case).
 */
export function listRemotes(ctx: ConfigFileContext, config: LoadedConfig = loadConfig(ctx)): RemoteInfo[] {
  const out: RemoteInfo[] = [];
  const seen = new Set<string>();
  for (const name of Object.keys(config.sections)) {
    const info = findRemoteType(name, config, ctx.env);
    if (!info) continue;
    out.push(info);
    seen.add(name.toUpperCase());
  }
  for (const [key, value] of Object.entries(ctx.env)) {
    const m = ENV_REMOTE.exec(key);
    if (!m || !value || seen.has(m[1]!)) continue;
    seen.add(m[1]!);
    out.push({ name: m[1]!.toLowerCase(), type: value, definedBy: 'env' });
  }
  return out;
}
