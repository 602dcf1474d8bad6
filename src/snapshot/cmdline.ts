/**
 * The bound on a process's command line. Any local user can start a process whose arguments add up
 * to megabytes, and every stage after the read (classification, redaction, attributes) would pay
 * for them: the receiver reads at most MAX_CMDLINE bytes of `/proc/PID/cmdline`, and the pipeline
 * cuts a recording's longer command lines the same way before anything else looks at them.
 */

/** Characters a command line keeps at most, the cut mark included (the exported attribute keeps 4,095). */
export const MAX_CMDLINE = 4096;

/** Ends a command line that was cut (after a space). */
export const CUT_MARK = '…';

/**
 * `cmdline` if it is at most MAX_CMDLINE characters; otherwise the whole arguments that fit, then
 * " …". An argument cut in half is dropped rather than kept in part, so that redaction never sees
 * half of a secret it could not recognize (`https://user:pass` without its `@host`). When the first
 * argument alone is longer than the bound, it is kept cut (the program must stay visible).
 */
export function boundCmdline(cmdline: string): string {
  return cmdline.length <= MAX_CMDLINE ? cmdline : cutCmdline(cmdline);
}

/** The cut itself, for a command line known to be longer than the bound (the receiver read only its start). */
export function cutCmdline(cmdline: string): string {
  const room = MAX_CMDLINE - 2; // " …"
  const space = cmdline.lastIndexOf(' ', room);
  if (space > 0) return `${cmdline.slice(0, space)} ${CUT_MARK}`;
  // Never cut between the two halves of a surrogate pair.
  const high = cmdline.charCodeAt(room - 1);
  return `${cmdline.slice(0, high >= 0xd800 && high <= 0xdbff ? room - 1 : room)} ${CUT_MARK}`;
}
