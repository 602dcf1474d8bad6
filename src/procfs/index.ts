/** The procfs receiver: reads every process of a procfs root into an `nrdot.snapshot/v1` snapshot. */
export { ProcfsReader, PERMISSION_KINDS } from './reader.js';
export type { ProcfsReaderOptions, ReadResult, ReadStats, PermissionKind, PermissionErrorDetail } from './reader.js';
export { UserResolver } from './users.js';
export { systemConstants, resolveHostId } from './system.js';
