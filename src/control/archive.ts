/**
 * The emergency rollback's archive (SPEC, "Control loop": "archives state and logs (secrets
 * redacted) for review"): one `.tar.gz` in `<data dir>/archives/` with the configuration in force,
 * a copy of the state store, its journal, decisions and KPIs as JSON, the daemon's status and its
 * logs, so that someone can see afterwards what the agent was doing and why it was rolled back.
 *
 * Every file in it is redacted: config.yaml as `config show` shows it, and every other file (logs,
 * the store's copy, the JSON) with each secret value the agent knows replaced by "***" (secretsOf,
 * redactText). It is written atomically (staged, tarred to a temporary file, then linked into
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
import { configSecrets, envSecrets, redactConfig } from '../config/redact.js';
import { describeFileError } from '../file-errors.js';
import type { StateStore } from '../store/index.js';
import { VERSION } from '../version.js';

export const ARCHIVES_DIR = 'archives';
const MASK = '***';
/**
 * Shorter secrets are not searched for in texts: replacing every "abc" or "42" of a log would make
 * it unreadable and hide nothing worth hiding (a secret of three characters is guessed, not leaked).
 * config.yaml masks them all the same. The OTLP exporter scrubs its errors with the same bound.
 */
export const MIN_SECRET_LENGTH = 4;
const DAY = 86_400;

export interface ArchiveInput {
  /** Archives go to `<dataDir>/archives/` (created 0700). */
  dataDir: string;
  /** The state store, as the daemon holds it (read-write); read and copied, never changed. */
  store: StateStore;
  /** The configuration in force. */
  config: Config;
  configFile: string | null;
  /** To find the secrets given by environment (NEW_RELIC_LICENSE_KEY, OTEL_EXPORTER_OTLP_HEADERS, ...). */
  env: NodeJS.ProcessEnv | Record<string, string | undefined>;
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

/**
 * Every secret value the agent knows from its configuration and environment (src/config/redact.ts:
 * header values and the license key, webhook secrets, webhook URLs and their paths and queries,
 * credentials and queries of endpoint and proxy URLs), without repeats and shorter ones than
 * MIN_SECRET_LENGTH, longest first (so that a secret containing another is replaced whole).
 */
export function secretsOf(config: Config, env: NodeJS.ProcessEnv | Record<string, string | undefined>): string[] {
  return normalize([...configSecrets(config), ...envSecrets(env)]);
}

function normalize(secrets: Iterable<string>): string[] {
  return [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

/**
 * Each secret, and the forms it takes once written into JSON (escaped) or a URL (percent-encoded),
 * longest first. Secrets shorter than MIN_SECRET_LENGTH are left out.
 */
function forms(secrets: readonly string[]): string[] {
  const all: string[] = [];
  for (const s of secrets) {
    if (s.length < MIN_SECRET_LENGTH) continue;
    all.push(s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s));
  }
  return normalize(all);
}

/**
 * `text` with every occurrence of every secret (as it is, JSON-escaped or percent-encoded) replaced
 * by "***". Secrets shorter than MIN_SECRET_LENGTH are ignored (see there).
 */
export function redactText(text: string, secrets: string[]): string {
  return replaceAll(text, forms(secrets));
}

function replaceAll(text: string, forms: readonly string[]): string {
  let out = text;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(MASK);
  return out;
}

/**
 * A stream that redacts text of any size in bounded memory: each chunk is redacted with the tail of
 * the previous one, and the last (longest form - 1) characters are held back, since a secret may
 * begin there and end in the next chunk. (Anything before them that a secret could cover was
 * complete in the redacted text, so it has been replaced.)
 */
function redactingStream(forms: readonly string[]): Transform {
  const hold = Math.max(0, ...forms.map((f) => f.length)) - 1;
  const decoder = new StringDecoder('utf8');
  let tail = '';
  const emit = (text: string, final: boolean): string => {
    const redacted = replaceAll(tail + text, forms);
    const cut = final ? redacted.length : Math.max(0, redacted.length - hold);
    tail = redacted.slice(cut);
    return redacted.slice(0, cut);
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
    const secrets = normalize([...secretsOf(input.config, input.env), ...(await apiToken(input.dataDir))]);
    const { files, skipped } = await stage(input, staging, secrets);
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
async function stage(input: ArchiveInput, staging: string, secrets: string[]): Promise<Omit<ArchiveResult, 'path' | 'bytes'>> {
  const secretForms = forms(secrets);
  const redact = (text: string): string => replaceAll(text, secretForms);
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
      await pipeline(source.createReadStream(), redactingStream(secretForms), createWriteStream(target, { mode: 0o600, flags: 'wx' }));
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
      `credentials and queries in endpoint and proxy URLs, the API token) of ${MIN_SECRET_LENGTH} characters or more is replaced by ***, also where it is JSON-escaped or percent-encoded.`,
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
