/**
 * The emergency rollback's archive (SPEC, "Control loop": "archives state and logs (secrets
 * redacted) for review"): one `.tar.gz` in `<data dir>/archives/` with the configuration in force,
 * a copy of the state store, its journal, decisions and KPIs as JSON, the daemon's status and its
 * logs, so that someone can see afterwards what the agent was doing and why it was rolled back.
 *
 * Every file in it is redacted: config.yaml as `config show` shows it, and every other file (logs,
 * the store's copy, the JSON) through the agent's one redaction (src/config/secrets.ts, with the API
 * token added), line by line. It is written atomically (staged, tarred to a temporary file, then linked into
 * place) with mode 0600; a failure leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, open, readFile, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { create as createTar } from 'tar';
import { stringify } from 'yaml';
import { TOKEN_FILE } from '../api/discovery.js';
import { MAX_ROTATED_LOGS, type Config } from '../config/index.js';
import { MIN_SECRET_LENGTH, redactConfig, type Redactor } from '../config/secrets.js';
import { describeFileError } from '../file-errors.js';
import type { StateStore } from '../store/index.js';
import { VERSION } from '../version.js';

export const ARCHIVES_DIR = 'archives';
const DAY = 86_400;

export interface ArchiveInput {
  /** Archives go to `<dataDir>/archives/` (created 0700). */
  dataDir: string;
  /** The state store, as the daemon holds it (read-write); read and copied, never changed. */
  store: StateStore;
  /** The configuration in force. */
  config: Config;
  configFile: string | null;
  /** The agent's redaction (it knows the configuration's and the environment's secrets); the API token is added to it. */
  redactor: Redactor;
  /** The log file and its rotated copies (logFilesOf); a missing one is noted in the manifest. */
  logFiles: string[];
  /** Unix seconds: the archive's name and time, and where the last 7 days of decisions and 24 h of KPIs end. */
  time: number;
  who: string;
  reason: string;
  /** The daemon's status object, stored as status.json. */
  status?: unknown;
}

export interface ArchiveResult {
  /** The archive: `<dataDir>/archives/rollback-YYYYMMDDTHHMMSSZ[-N].tar.gz`. */
  path: string;
  bytes: number;
  /** The files in it, relative to its top-level directory: manifest.json, config.yaml, ..., logs/NAME. */
  files: string[];
  /** Log files that could not be read (gone by rotation, unreadable), and why; the manifest lists them too. */
  skipped: Array<{ file: string; reason: string }>;
}

/** A failure to write the archive; the message names the file or directory. */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

/** The log file and its rotated copies that exist (FILE, FILE.1, FILE.2, ...), newest first. */
export function logFilesOf(file: string): string[] {
  const files = [file];
  for (let i = 1; i <= MAX_ROTATED_LOGS; i++) files.push(`${file}.${i}`);
  return files.filter((f) => existsSync(f));
}

/** A line longer than this is redacted in pieces (a log line never is; a file without newlines may be). */
const MAX_LINE = 1 << 20;
/** Where a piece of such a line may end: after a character no secret's forms contain. */
const SEPARATORS = new Set([' ', '\t', '"', "'", ',', ';', '<', '>', '{', '}', '[', ']']);

/**
 * A stream that redacts text of any size in bounded memory, whole lines at a time (a secret never
 * spans lines): each chunk's complete lines are redacted and passed on, the last partial one is held
 * until its end comes, or, past MAX_LINE, cut after its last separator (a secret is not cut in two).
 */
function redactingStream(redactor: Redactor): Transform {
  const decoder = new StringDecoder('utf8');
  let tail = '';
  const piece = (all: string): number => {
    for (let i = all.length - 1; i > all.length - MAX_LINE / 2 && i >= 0; i--) if (SEPARATORS.has(all[i]!)) return i + 1;
    return all.length; // a run of half a MiB without one is cut where it is
  };
  const emit = (text: string, final: boolean): string => {
    const all = tail + text;
    const newline = all.lastIndexOf('\n') + 1;
    const cut = final ? all.length : newline > 0 || all.length <= MAX_LINE ? newline : piece(all);
    tail = all.slice(cut);
    return redactor.scrub(all.slice(0, cut));
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, emit(decoder.write(chunk), false));
    },
    flush(done) {
      done(null, emit(decoder.end(), true));
    },
  });
}

/** `rollback-YYYYMMDDTHHMMSSZ` for unix seconds `time`. */
function baseName(time: number): string {
  return `rollback-${new Date(Math.floor(time) * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

/**
 * Writes the rollback archive and returns its path, size and contents. Throws ArchiveError (or the
 * store's StoreError) naming the path that failed; then nothing is left behind.
 */
export async function writeArchive(input: ArchiveInput): Promise<ArchiveResult> {
  const dir = join(input.dataDir, ARCHIVES_DIR);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOTDIR' || (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'not a directory' : describeFileError(err);
    throw new ArchiveError(`${dir}: cannot create the archive directory: ${why}`);
  }
  let staging: string;
  try {
    staging = await mkdtemp(join(dir, '.staging-'));
  } catch (err) {
    throw new ArchiveError(`${dir}: cannot write an archive there: ${describeFileError(err)}`);
  }
  try {
    const { files, skipped } = await stage(input, staging, input.redactor.add(await apiToken(input.dataDir)));
    return { ...(await pack(dir, baseName(input.time), staging, files)), files, skipped };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** The local API's token: a secret the agent knows too, though it should appear nowhere. */
async function apiToken(dataDir: string): Promise<string[]> {
  try {
    return [(await readFile(join(dataDir, TOKEN_FILE), 'utf8')).trim()];
  } catch {
    return []; // none yet, or unreadable: then nothing can have leaked it either
  }
}

/** Writes the archive's files into `staging`; returns their names (manifest.json first) and the log files skipped. */
async function stage(input: ArchiveInput, staging: string, redactor: Redactor): Promise<Omit<ArchiveResult, 'path' | 'bytes'>> {
  const redact = (text: string): string => redactor.scrub(text);
  const sizes = new Map<string, number>();
  const put = async (name: string, text: string): Promise<void> => {
    const file = join(staging, name);
    try {
      await writeFile(file, redact(text), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      throw new ArchiveError(`${file}: cannot write: ${describeFileError(err)}`);
    }
    sizes.set(name, (await stat(file)).size);
  };
  const json = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';
  const when = new Date(input.time * 1000).toISOString();

  const header = `# The configuration in force at ${when}, from ${input.configFile ?? 'the embedded defaults'}; secrets redacted\n`;
  await put('config.yaml', header + stringify(redactConfig(input.config), { lineWidth: 0 }));

  let scrubbed: number;
  try {
    scrubbed = input.store.copyTo(join(staging, 'state.db'), redact);
  } catch (err) {
    throw new ArchiveError(`cannot copy the state store ${input.store.path} into the archive: ${(err as Error).message}`);
  }
  sizes.set('state.db', (await stat(join(staging, 'state.db'))).size);
  await put('journal.json', json(input.store.journal()));
  await put('decisions.json', json(input.store.decisions({ since: input.time - 7 * DAY })));
  await put('kpis.json', json(input.store.kpiHistory({ resolution: 'raw', since: input.time - DAY })));
  if (input.status !== undefined) await put('status.json', json(input.status));

  const skipped: ArchiveResult['skipped'] = [];
  if (input.logFiles.length > 0) await mkdir(join(staging, 'logs'), { mode: 0o700 });
  const used = new Set<string>();
  for (const file of input.logFiles) {
    let name = `logs/${basename(file)}`;
    for (let n = 2; used.has(name); n++) name = `logs/${basename(file)}-${n}`;
    const target = join(staging, name);
    let source: FileHandle;
    try {
      source = await open(file, 'r');
    } catch (err) {
      // A log rotated away meanwhile, or unreadable, must not stop a rollback: it is noted instead.
      skipped.push({ file, reason: describeFileError(err) });
      continue;
    }
    try {
      await pipeline(source.createReadStream(), redactingStream(redactor), createWriteStream(target, { mode: 0o600, flags: 'wx' }));
    } catch (err) {
      throw new ArchiveError(`${file}: cannot copy into the archive: ${describeFileError(err)}`);
    } finally {
      await source.close().catch(() => undefined);
    }
    used.add(name);
    sizes.set(name, (await stat(target)).size);
  }

  const manifest = {
    kind: 'nrdot-plus rollback archive',
    time: when,
    who: input.who,
    reason: input.reason,
    host: hostname(),
    agent_version: VERSION,
    config_file: input.configFile,
    files: [...sizes].map(([name, bytes]) => ({ name, bytes })),
    logs: input.logFiles,
    ...(skipped.length > 0 ? { logs_skipped: skipped } : {}),
    redaction:
      'Secrets are redacted. config.yaml masks every header value, webhook secret and URL path, and endpoint credentials, as `nrdot-plus-ctl config show` does. ' +
      `In every other file, including state.db (${scrubbed} rows changed), each secret value the agent knows (license key, header values, webhook secrets and URLs, ` +
      `credentials and queries in endpoint and proxy URLs, the API token) of ${MIN_SECRET_LENGTH} characters or more is replaced by ***, in any case and also where it is JSON-escaped, ` +
      'percent-encoded or base64-encoded; so are the values of Authorization and api-key style headers, Bearer and Basic credentials, and the user info and query of every URL.',
  };
  await put('manifest.json', json(manifest));
  return { files: ['manifest.json', ...[...sizes.keys()].filter((n) => n !== 'manifest.json')], skipped };
}

/**
 * Tars and gzips `staging`'s `files` under the top-level directory `<name>` into a temporary file,
 * fsyncs it, and links it to `<dir>/<name>.tar.gz`, or `<name>-2.tar.gz`, ... when that exists (a
 * link, unlike a rename, never replaces a file: two archives written at once both survive).
 */
async function pack(dir: string, base: string, staging: string, files: string[]): Promise<{ path: string; bytes: number }> {
  const tmp = join(dir, `.${base}.${randomBytes(6).toString('hex')}.tmp`);
  // Directories first, each entry named, in the manifest's order: "." becomes the top-level directory.
  const logs = files.findIndex((f) => f.startsWith('logs/'));
  const entries = ['.', ...(logs < 0 ? files : [...files.slice(0, logs), 'logs', ...files.slice(logs)])];
  try {
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base}-${n}`;
      const path = join(dir, `${name}.tar.gz`);
      if (existsSync(path)) continue;
      await rm(tmp, { force: true });
      try {
        await pipeline(
          createTar({ gzip: true, cwd: staging, prefix: name, noDirRecurse: true }, entries),
          createWriteStream(tmp, { mode: 0o600, flags: 'wx' }),
        );
        await chmod(tmp, 0o600); // whatever the umask
        const fh = await open(tmp, 'r');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      } catch (err) {
        throw new ArchiveError(`${tmp}: cannot write the archive: ${describeFileError(err)}`);
      }
      try {
        await link(tmp, path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue; // taken since we looked: the next name
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
          // A file system without hard links: rename, which is atomic too but could replace an archive written in between.
          try {
            await rename(tmp, path);
          } catch (e) {
            throw new ArchiveError(`${path}: cannot create: ${describeFileError(e)}`);
          }
        } else {
          throw new ArchiveError(`${path}: cannot create: ${describeFileError(err)}`);
        }
      }
      return { path, bytes: (await stat(path)).size };
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
