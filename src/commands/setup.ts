// What every operator command does first: read the configuration (outside `run` the
// control-plane settings are optional), register its secrets with the log scrubber, and
// make a stderr logger and the AWS runtime. A configuration error prints one line and
// ends the command with exit code 78, as the daemon does.
import { ConfigError, EXIT_CONFIG, loadConfig, secretValues, type Config } from '../config.js';
import { AwsRuntime } from '../aws/runtime.js';
import { declaredActions } from '../permissions.js';
import { createLogger, registerSecret, scrub, type Logger } from '../log.js';
import { CommandExit } from './args.js';

export interface CommandSetup {
  config: Config;
  log: Logger;
  aws: AwsRuntime;
}

export function commandSetup(command: string): CommandSetup {
  let config: Config;
  try {
    config = loadConfig(process.env, { daemon: false });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`access-connector ${command}: configuration error: ${scrub(err.message)}\n`);
      throw new CommandExit(EXIT_CONFIG);
    }
    throw err;
  }
  for (const s of secretValues(config)) registerSecret(s);
  // Diagnostics go to stderr, at warn unless debugging was asked for, so stdout holds only
  // the command's output.
  const level = config.logLevel === 'debug' || config.logLevel === 'trace' ? config.logLevel : 'warn';
  const log = createLogger({ level, format: config.logFormat, destination: process.stderr, base: { command } });
  const aws = new AwsRuntime({ connectorId: config.connectorId, declaredActions: declaredActions(), log, quotaShare: config.awsQuotaShare, quotaMultiplier: config.awsQuotaMultiplier, ...(config.proxy && { proxy: config.proxy }), noProxy: config.noProxy });
  return { config, log, aws };
}
