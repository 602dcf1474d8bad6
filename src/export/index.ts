/** Exporters: where the optimizer's batches go (an OTLP JSON file, the Prometheus exposition; OTLP/HTTP next). */
export { FileExporter, RotatingFile, type FileExporterOptions, type RotatingFileOptions } from './file.js';
export { prometheusName, renderPrometheus } from './prometheus.js';
export { DurableQueue, type DurableQueueOptions, type QueuedBatch } from './queue.js';
