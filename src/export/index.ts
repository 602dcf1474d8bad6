/** Exporters: where the optimizer's batches go (an OTLP JSON file, the Prometheus exposition; OTLP/HTTP next). */
export { FileExporter, RotatingFile, type FileExporterOptions, type RotatingFileOptions } from './file.js';
export { Health, type HealthState } from './health.js';
export { prometheusName, renderHealth, renderPrometheus, type ExporterHealth } from './prometheus.js';
export { DurableQueue, type DurableQueueOptions, type QueuedBatch } from './queue.js';
