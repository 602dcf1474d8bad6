/** `nrdot-plus-ctl config validate|show`: the configuration file and the effective configuration. */
import { Command } from 'commander';
import { stringify } from 'yaml';
import { configLocation, loadConfig, redactConfig } from '../config/index.js';
import { configure } from './program.js';

export const CONFIG_OPTION = ['--config <file>', 'optimization.yaml to use (env NRDOT_CONFIG)'] as const;

export function configCommand(): Command {
  const cmd = configure(new Command('config')).description('validate and show the configuration (optimization.yaml)');
  cmd.addCommand(
    configure(new Command('validate'))
      .description('check a configuration file; exit 1 with the file, field and line of the first problem')
      .option(...CONFIG_OPTION)
      .option('--json', 'print the result as JSON')
      .action((opts: { config?: string; json?: boolean }) => {
        const { config, file } = loadConfig(opts.config);
        const where = file ?? configLocation(opts.config).path;
        const profiles = Object.keys(config.profiles).length;
        const tiers = Object.keys(config.process_classification).length + Object.keys(config.custom_classification).length;
        if (opts.json) {
          process.stdout.write(JSON.stringify({ valid: true, file, profiles, tiers }) + '\n');
        } else if (file) {
          process.stdout.write(`${file}: valid (${profiles} profiles, ${tiers} tiers)\n`);
        } else {
          process.stdout.write(`no file at ${where}: the embedded defaults are in force (valid, ${profiles} profiles, ${tiers} tiers)\n`);
        }
      }),
  );
  cmd.addCommand(
    configure(new Command('show'))
      .description('print the effective configuration (defaults merged, secrets redacted)')
      .option(...CONFIG_OPTION)
      .option('--json', 'print as JSON instead of YAML')
      .action((opts: { config?: string; json?: boolean }) => {
        const { config, file } = loadConfig(opts.config);
        const shown = redactConfig(config);
        if (opts.json) process.stdout.write(JSON.stringify(shown, null, 2) + '\n');
        else process.stdout.write(`# effective configuration: ${file ?? 'embedded defaults'}\n${stringify(shown, { lineWidth: 0 })}`);
      }),
  );
  return cmd;
}
