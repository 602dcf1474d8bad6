/**
 * A process writing through the agent's logger, for the log tests: `node log-writer.js FILE MAX_BYTES`.
 * Each line on stdin is a count N: it logs the next N numbered lines ("line I", every 5th a warning,
 * every 10th an error) and answers "wrote TOTAL" on stdout. It exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { createLogger } from '../src/agent/log.js';

const [file, maxBytes] = process.argv.slice(2);
// `node --test dist/` also loads this file (it is under test/), without arguments: then it does nothing.
if (file !== undefined) {
  const log = createLogger('debug', { file, maxBytes: Number(maxBytes) });
  let next = 0;
  for await (const count of createInterface({ input: process.stdin })) {
    for (const end = next + Number(count); next < end; next++) {
      if (next % 10 === 9) log.error({ i: next }, `line ${next}`);
      else if (next % 5 === 4) log.warn({ i: next }, `line ${next}`);
      else log.info({ i: next }, `line ${next}`);
    }
    process.stdout.write(`wrote ${next}\n`);
  }
}
