/** Exit codes and the error a command throws for something the user can fix. */

export const EXIT = {
  ok: 0,
  /** Something went wrong: bad file, unreachable endpoint, ... */
  error: 1,
  /** The command line itself is wrong: unknown flag, bad value. */
  usage: 2,
  /** No daemon is running to answer. */
  noDaemon: 3,
} as const;

/** An error caused by the user's input or environment: printed as one line, never a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** A bad flag value or environment variable: exit code 2. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}
