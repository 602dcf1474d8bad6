/** One wording for the file errors a user can cause, shared by recordings and the configuration. */

/** "no such file", "permission denied", "is a directory", else the system's message. */
export function describeFileError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  return e.message ?? String(err);
}
