/** Exporters: where the optimizer's batches go (files today; OTLP/HTTP and Prometheus next). */
export { FileExporter, type FileExporterOptions } from './file.js';
