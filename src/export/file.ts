/**
 * Files rotated by size, and the file exporter built on one: one OTLP JSON ExportMetricsServiceRequest
 * per interval per line (the format of the OpenTelemetry Collector's file exporter, and of
 * `simulate --export-file`). The agent's log file is the other user of the rotation.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Logger } from '../agent/log.js';
import { Health } from './health.js';

export interface RotatingFileOptions {
  path: string;
  /** The file is rotated before a write that would take it past this size. */
  maxBytes: number;
  /** Rotated files kept beside the current one, as FILE.1 (newest) to FILE.keep (default 3). */
  keep?: number;
  /** Permissions of a file this creates (default 0o644, less the umask). */
  mode?: number;
}

/**
 * A file written by whole chunks (synchronously: a chunk is small and must be whole on disk), rotated
 * by size: when the file would pass `maxBytes`, it becomes FILE.1 (FILE.1 becomes FILE.2, ...) and a
 * new FILE is started. Rotation is by rename, so a reader holding the old file open (`logs --follow`)
 * reads it to its end, then moves on to the new one. A chunk cut short (disk full) is cut off again,
 * so that the next one does not start in the middle of it.
 */
export class RotatingFile {
  private size: number;
  private readonly keep: number;
  private readonly mode: number;

  constructor(private readonly options: RotatingFileOptions) {
    this.keep = options.keep ?? 3;
    this.mode = options.mode ?? 0o644;
    this.size = existsSync(options.path) ? statSync(options.path).size : 0;
  }

  get path(): string {
    return this.options.path;
  }

  /** Appends `text` as it is (a caller writing lines ends them with "\n"); on a failure, none of it stays. */
  append(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.size > 0 && this.size + bytes > this.options.maxBytes) this.rotate();
    const fd = openSync(this.options.path, 'a', this.mode);
    try {
      const before = fstatSync(fd).size;
      try {
        writeFileSync(fd, text);
      } catch (err) {
        ftruncateSync(fd, before); // the part written before the disk filled up
        throw err;
      }
      this.size = before + bytes;
    } finally {
      closeSync(fd);
    }
  }

  private rotate(): void {
    const p = this.options.path;
    rmSync(`${p}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) if (existsSync(`${p}.${i}`)) renameSync(`${p}.${i}`, `${p}.${i + 1}`);
    if (this.keep > 0) renameSync(p, `${p}.1`);
    else rmSync(p, { force: true });
    this.size = 0;
  }
}

export interface FileExporterOptions {
  path: string;
  maxBytes: number;
  /** Rotated files kept beside the current one (default 3). */
  keep?: number;
  log: Logger;
}

export class FileExporter {
  private readonly file: RotatingFile;
  readonly health: Health;

  constructor(options: FileExporterOptions) {
    this.file = new RotatingFile(options);
    this.health = new Health(options.log, `file exporter ${options.path}`, 'the interval is not in the file');
  }

  get path(): string {
    return this.file.path;
  }

  /** Appends one line; a failure (disk full) is the file exporter's alone: counted and logged, not thrown. */
  write(line: string): void {
    this.health.run(() => this.file.append(line + '\n'));
  }
}
