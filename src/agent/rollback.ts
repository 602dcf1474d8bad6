/**
 * The emergency rollback (SPEC, "Control loop"): stop the loop, pin `conservative`, raise the
 * `rollback` event, archive state and logs (secrets redacted) for review. The daemon runs it on
 * `POST /api/v1/rollback`; with no daemon running, `nrdot-plus-ctl rollback` runs it on the data
 * directory itself (under the agent's lock), so that it is in force, and its event sent, when the
 * agent starts.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { WebhookSender } from '../alerts/webhook.js';
import type { Actor } from '../api/routes.js';
import { EXIT, UserError } from '../command/errors.js';
import { dataDir, loadConfig, logFile, type Config } from '../config/index.js';
import { Redactor } from '../config/secrets.js';
import { logFilesOf, writeArchive } from '../control/archive.js';
import { describeFileError } from '../file-errors.js';
import { acquireLock, LockedError } from '../file-lock.js';
import { STATE_FILE, StateStore } from '../store/index.js';
import { stopInStore } from './control.js';
import { createLogger, type Logger } from './log.js';

export const ROLLBACK_PROFILE = 'conservative';

export interface RollbackResult {
  pinned: string;
  loop_stopped: true;
  archive: string | null;
  archive_error: string | null;
  message: string;
}

export interface RollbackParts {
  store: StateStore;
  config: Config;
  configFile: string | null;
  dataDir: string;
  log: Logger;
  /** The agent's redaction, for the archive. */
  redactor: Redactor;
  /** Stops the loop, recording this stop even over an earlier one. */
  stopLoop: (time: number, by: Actor) => void;
  /** Raises the `rollback` webhook event. */
  raise: (details: Record<string, unknown>, time: number) => void;
  /** Called once the pin is stored (the daemon applies the profile). */
  pinned?: () => void;
  /** The agent's status, archived as status.json. */
  status: () => unknown;
}

export async function rollback(p: RollbackParts, by: Actor, now = Date.now() / 1000): Promise<RollbackResult> {
  const reason = `rollback: ${by.reason}`;
  p.stopLoop(now, { who: by.who, reason });
  p.store.setPin(ROLLBACK_PROFILE, null, { time: now, who: by.who, reason });
  p.pinned?.();
  p.raise({ reason: by.reason, who: by.who, pinned: ROLLBACK_PROFILE, loop: 'stopped' }, now);
  p.log.warn({ by: by.who }, `emergency rollback by ${by.who}: ${by.reason}; pinned ${ROLLBACK_PROFILE}, control loop stopped`);
  let archive: string | null = null;
  let archiveError: string | null = null;
  try {
    const written = await writeArchive({
      dataDir: p.dataDir,
      store: p.store,
      config: p.config,
      configFile: p.configFile,
      redactor: p.redactor,
      logFiles: logFilesOf(logFile()),
      time: now,
      who: by.who,
      reason: by.reason,
      status: p.status(),
    });
    archive = written.path;
    p.log.warn({ archive, bytes: written.bytes }, `rollback archive written: ${archive}; manual review required`);
  } catch (err) {
    archiveError = (err as Error).message;
    p.log.error({ by: by.who }, `rollback done, but its archive failed: ${archiveError}`);
  }
  return { pinned: ROLLBACK_PROFILE, loop_stopped: true, archive, archive_error: archiveError, message: 'Manual review required' };
}

/**
 * The rollback with no daemon running: on the data directory's store, under the agent's lock (an
 * agent that holds it but does not answer is named, not bypassed). The pin and the stopped loop are
 * in force when the agent starts; the `rollback` event waits in the outbox until then.
 */
export async function rollbackWithoutDaemon(configFlag: string | undefined, by: Actor): Promise<RollbackResult & { data_dir: string; agent_running: false }> {
  const { config, file } = loadConfig(configFlag);
  const home = dataDir();
  if (!existsSync(join(home, 'state', STATE_FILE))) {
    throw new UserError(`no nrdot-plus daemon is running, and ${home} has no state store to roll back (set NRDOT_DATA_DIR to the agent's data directory)`, EXIT.noDaemon);
  }
  let unlock: () => void;
  try {
    unlock = acquireLock(join(home, 'agent.lock'));
  } catch (err) {
    if (err instanceof LockedError) {
      throw new UserError(`nrdot-plus (${err.who}) holds ${home} but its API does not answer; stop it${err.owner ? ` (kill ${err.owner})` : ""} and run rollback again`);
    }
    throw new UserError(`${join(home, 'agent.lock')}: ${describeFileError(err)}`);
  }
  const store = StateStore.open(join(home, 'state'));
  const log = createLogger('silent');
  try {
    const redactor = Redactor.of(config, process.env);
    const webhooks = new WebhookSender({ store, webhooks: config.webhooks, host: hostname(), log, redactor });
    const result = await rollback(
      {
        store,
        config,
        configFile: file,
        dataDir: home,
        log,
        redactor,
        stopLoop: (time, stop) => stopInStore(store, { time, ...stop }),
        raise: (details, time) => void webhooks.raise('rollback', details, time),
        status: () => ({ agent: 'not running', data_dir: home, profile: store.profileState() }),
      },
      by,
    );
    return { ...result, data_dir: home, agent_running: false };
  } finally {
    store.close();
    unlock();
  }
}
