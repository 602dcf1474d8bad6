/**
 * The packaged systemd unit (packaging/nrdot-plus.service) made concrete for this machine, and the
 * few systemctl calls `install` and `uninstall` make.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../command/errors.js';
import { systemPath } from './system-user.js';

export const UNIT_NAME = 'nrdot-plus.service';
/** The packaging directory of this checkout or package (dist/src/agent/ -> packaging/). */
export const PACKAGING_DIR = fileURLToPath(new URL('../../../packaging/', import.meta.url));
/** This checkout's or package's agent executable. */
export const AGENT_BIN = fileURLToPath(new URL('../../../bin/nrdot-plus', import.meta.url));

/** The ExecStart= line as packaged: a placeholder `install` replaces with real paths. */
const PACKAGED_EXEC_START = 'ExecStart=/usr/bin/node /opt/nrdot-plus/bin/nrdot-plus';

/**
 * One argument of an Exec line: `%` (specifiers) and `$` (variables) doubled; quoted when it holds
 * whitespace, quotes or backslashes.
 */
export function execArg(arg: string): string {
  if (/[\n\r]/.test(arg)) throw new UserError(`cannot put a path with a line break in a systemd unit: ${JSON.stringify(arg)}`);
  const s = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\;]/.test(s) ? `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : s;
}

/** The unit to install: the packaged one with ExecStart running `node` on `agent`. */
export function renderUnit(node: string, agent: string): string {
  const packaged = readFileSync(PACKAGING_DIR + UNIT_NAME, 'utf8');
  const lines = packaged.split('\n');
  const at = lines.indexOf(PACKAGED_EXEC_START);
  if (at < 0) throw new Error(`${PACKAGING_DIR}${UNIT_NAME} has no line "${PACKAGED_EXEC_START}" to fill in`);
  lines[at] = `ExecStart=${execArg(node)} ${execArg(agent)}`;
  return lines.join('\n');
}

/** The ExecStart= value of a unit's text. */
export function execStart(unit: string): string | undefined {
  return /^ExecStart=(.*)$/m.exec(unit)?.[1];
}

/** systemd is the running init (sd_booted()'s test). */
export function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

/** `systemctl ARGS`; returns the exit status, throws a UserError for failures when `check`. */
export function systemctl(args: string[], check = true): number {
  const r = spawnSync('systemctl', args, { encoding: 'utf8', env: { ...process.env, PATH: systemPath() } });
  if (r.error) throw new UserError(`systemctl: ${r.error.message}`);
  if (check && r.status !== 0) {
    const why = (r.stderr || r.stdout).trim().replace(/\s*\n\s*/g, '; ');
    throw new UserError(`systemctl ${args.join(' ')} failed (exit ${r.status ?? r.signal}): ${why}`);
  }
  return r.status ?? 1;
}
