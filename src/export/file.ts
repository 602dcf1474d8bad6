/**
 * The file exporter: one OTLP JSON ExportMetricsServiceRequest per interval per line (the format of
 * the OpenTelemetry Collector's file exporter, and of `simulate --export-file`), rotated by size:
 * when the file would pass `maxBytes`, it becomes FILE.1 (FILE.1 becomes FILE.2, ...), keeping `keep`.
 */
import { appendFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';

export interface FileExporterOptions {
  path: string;
  maxBytes: number;
  /** Rotated files kept beside the current one (default 3). */
  keep?: number;
}

export class FileExporter {
  private size: number;
  private readonly keep: number;

  constructor(private readonly options: FileExporterOptions) {
    this.keep = options.keep ?? 3;
    this.size = existsSync(options.path) ? statSync(options.path).size : 0;
  }

  get path(): string {
    return this.options.path;
  }

  /** Appends one line (synchronously: an interval's line is small and must be whole on disk). */
  write(line: string): void {
    const bytes = Buffer.byteLength(line) + 1;
    if (this.size > 0 && this.size + bytes > this.options.maxBytes) this.rotate();
    appendFileSync(this.options.path, line + '\n');
    this.size += bytes;
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
