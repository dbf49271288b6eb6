// What the config layer reads from the outside world, passed in explicitly so that tests (and
// the CLI) decide which environment and which config file apply, never process.env implicitly.

export interface ConfigContext {
  /** `--config FILE`; undefined when not given, "" for "no config file at all" (as rclone). */
  configPath?: string;
  /** S3 option values from `--s3-*` flags keyed by option name (`chunk_size`); undefined = not given. */
  flags: Record<string, string | boolean | number | undefined>;
  /** `--password-command` as given (rclone's space-separated list); undefined: RCLONE_PASSWORD_COMMAND applies. */
  passwordCommand?: string;
  /** `--ask-password`; undefined: RCLONE_ASK_PASSWORD, else true. */
  askPassword?: boolean;
  /** The environment: RCLONE_CONFIG, RCLONE_CONFIG_PASS, RCLONE_PASSWORD_COMMAND, RCLONE_ASK_PASSWORD, RCLONE_CONFIG_<REMOTE>_<NAME>, RCLONE_S3_<NAME>, HOME, XDG_CONFIG_HOME. */
  env: NodeJS.ProcessEnv;
}
