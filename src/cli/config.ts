/**
 * `nrdot-plus-ctl config validate|show|reload`: the configuration file, the effective configuration
 * (the running agent's when one runs), and reloading it in the agent.
 */
import { Command } from 'commander';
import { stringify } from 'yaml';
import { configLocation, loadConfig, redactConfig, type Config } from '../config/index.js';
import { connectDaemon, findDaemon, operator } from './client.js';
import { configure } from '../command/program.js';
import { writeJson } from './style.js';
import { CONFIG_OPTION } from '../command/options.js';


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
      .description('print the effective configuration (defaults merged, environment applied, secrets redacted): the running agent\'s, else this machine\'s')
      .option(...CONFIG_OPTION)
      .option('--local', 'the configuration this command loads, even when an agent runs')
      .option('--json', 'print as JSON instead of YAML')
      .action(async (opts: { config?: string; local?: boolean; json?: boolean }) => {
        const daemon = opts.config || opts.local ? null : findDaemon();
        let shown: Config;
        let header: string;
        if (daemon) {
          const r = await daemon.get<{ file: string | null; fleet_fragments?: string[]; env: string[]; config: Config }>('/api/v1/config');
          shown = r.config;
          const fleet = r.fleet_fragments?.length ? `; fleet: ${r.fleet_fragments.join(', ')}` : '';
          header = `in force in nrdot-plus pid ${daemon.info.pid}: ${r.file ?? 'embedded defaults'}${fleet}${r.env.length ? `; environment: ${r.env.join(', ')}` : ''}`;
        } else {
          const { config, file, env } = loadConfig(opts.config);
          shown = redactConfig(config);
          header = `${file ?? 'embedded defaults'}${env.length ? `; environment: ${env.map((e) => e.name).join(', ')}` : ''}`;
        }
        if (opts.json) writeJson(shown);
        else process.stdout.write(`# effective configuration, ${header}\n${stringify(shown, { lineWidth: 0 })}`);
      }),
  );
  cmd.addCommand(
    configure(new Command('reload'))
      .description('make the running agent reload its configuration file; a broken file is refused (exit 1) and the agent keeps the previous one')
      .option('--json', 'print as JSON')
      .action(async (opts: { json?: boolean }) => {
        const r = await connectDaemon().change<{ file: string | null; changed: string[]; restart_needed: string[] }>('POST', '/api/v1/config/reload', { who: operator() });
        if (opts.json) return writeJson(r);
        const what = r.changed.length ? `changed: ${r.changed.join(', ')}` : 'no change';
        const restart = r.restart_needed.length ? `; ${r.restart_needed.join(', ')} take effect at the next start` : '';
        process.stdout.write(`reloaded ${r.file ?? 'embedded defaults'} (${what})${restart}\n`);
      }),
  );
  return cmd;
}
