/** The procfs receiver: reads every process of a procfs root into an `nrdot.snapshot/v1` snapshot. */
export { ProcfsReader } from './reader.js';
export { PERMISSION_KINDS } from './types.js';
export type { ProcfsReaderOptions, ReadResult, ReadStats, PermissionKind, PermissionErrorDetail } from './types.js';
export { UserResolver } from './users.js';
export { systemConstants, resolveHostId } from './system.js';
