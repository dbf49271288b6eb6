// The config layer's public surface, for the CLI and the mount start-up.
export type { ConfigContext } from './context.js';
export { resolveRemote, resolveParsedRemote, type RemoteTarget, type OptionSource } from './resolve.js';
export { parseRemotePath, splitBucketPath, isValidRemoteName, type ParsedPath, type RemotePath, type LocalPath } from './remote-path.js';
export { loadConfig, locateConfig, parseConfigText, type LoadedConfig, type ConfigLocation, type ConfigSections } from './config-file.js';
export { listRemotes, findRemoteType, remoteEnvKey, type RemoteInfo } from './remotes.js';
export {
  parseSize,
  formatSize,
  parseDuration,
  formatDuration,
  parseBool,
  parseInteger,
  SIZE_OFF,
  DURATION_OFF,
  InvalidValueError,
} from './units.js';
export { parseEncoding, ENCODER_NAMES, type EncoderName } from './multi-encoder.js';
export { parseOptionValue, formatOptionValue, type OptionValue } from './option-value.js';
export { describeOptionsForConfigShow, renderConfigSection, isSecretKey, REDACTED } from './config-show.js';
export { renderOptionsHelp, renderOptionsMarkdown } from './docs.js';
export { S3_OPTIONS, PROVIDERS, findS3Option, s3FlagName, s3EnvName, remoteEnvName, type OptionSpec, type OptionType } from './option-table.js';
export type { S3Options } from './s3-options.js';
