/**
 * Aligned text tables for human output: first column left-aligned, numbers right-aligned, fitted to
 * the terminal's width: first long headers wrap onto more lines, then free-text columns wrap, then
 * the columns a command marks as optional are left out (and the table says which).
 */

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Width for a pipe or a file: fixed, so that scripts and logs see the same layout on every machine. */
export const PIPE_WIDTH = 120;
/** Narrower than this is not honoured (every table needs a few columns). */
const MIN_WIDTH = 40;

/**
 * The width to fit: COLUMNS when it is a whole number (the user's say), else the terminal's when
 * stdout is one, else PIPE_WIDTH.
 */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout, env = process.env): number {
  const fromEnv = Number(env.COLUMNS);
  if (env.COLUMNS !== undefined && Number.isInteger(fromEnv) && fromEnv > 0) return Math.max(MIN_WIDTH, fromEnv);
  if (stream.isTTY === true && typeof stream.columns === 'number' && stream.columns > 0) return Math.max(MIN_WIDTH, stream.columns);
  return PIPE_WIDTH;
}

/** Width on screen (colour codes take none). */
export function displayWidth(text: string): number {
  return text.replace(ANSI, '').length;
}

/** Text cut into lines of at most `max` characters on screen, at spaces (a longer word is cut). */
export function wrapText(text: string, max: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (let word of text.split(' ')) {
    while (displayWidth(word) > max) {
      if (line !== '') {
        lines.push(line);
        line = '';
      }
      lines.push(word.slice(0, max));
      word = word.slice(max);
    }
    if (line === '') line = word;
    else if (displayWidth(line) + 1 + displayWidth(word) <= max) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  return lines;
}

export interface TableOptions {
  /** Columns (indexes) of free text whose cells may wrap onto more lines. */
  wrap?: number[];
  /** Columns (indexes) that may be left out when the table does not fit, the first listed first. */
  drop?: number[];
  /** Width to fit; default terminalWidth(). */
  width?: number;
}

const GAP = 2;
/** A free-text column is not narrowed below this: leaving out a column reads better than a word per line. */
const MIN_WRAPPED = 20;

/**
 * The table as text no wider than the width when it can be done. When columns had to be left out, a
 * last line names them and how to see them.
 */
export function formatTable(header: string[], rows: string[][], options: TableOptions = {}): string {
  const max = options.width ?? terminalWidth();
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-+]?\$?[\d.,]+%?$|^-$|^n\/a$/.test(r[i] ?? '')));
  const content = header.map((_, i) => Math.max(0, ...rows.map((r) => displayWidth(r[i] ?? ''))));
  const longestWord = (text: string): number => Math.max(...text.split(' ').map(displayWidth));
  const wrap = new Set(options.wrap ?? []);
  const dropOrder = [...(options.drop ?? [])];
  const shown = header.map((_, i) => i);
  const dropped: number[] = [];
  let widths: number[] = [];
  const total = (): number => shown.reduce((sum, i) => sum + widths[i]!, 0) + GAP * (shown.length - 1);
  for (;;) {
    // Whole headers, then headers wrapped at their words, then free-text columns narrowed.
    widths = header.map((h, i) => Math.max(content[i]!, displayWidth(h)));
    if (total() > max) widths = header.map((h, i) => Math.max(content[i]!, longestWord(h)));
    const narrowable = shown.filter((i) => wrap.has(i));
    while (total() > max) {
      const widest = narrowable.filter((i) => widths[i]! > Math.max(MIN_WRAPPED, longestWord(header[i]!))).sort((a, b) => widths[b]! - widths[a]!)[0];
      if (widest === undefined) break;
      widths[widest] = Math.max(MIN_WRAPPED, longestWord(header[widest]!), widths[widest]! - (total() - max));
    }
    const next = dropOrder.shift();
    if (total() <= max || next === undefined) break;
    shown.splice(shown.indexOf(next), 1);
    dropped.push(next);
  }
  const renderRow = (cells: string[]): string[] => {
    const wrapped = shown.map((i) => (displayWidth(cells[i] ?? '') <= widths[i]! ? [cells[i] ?? ''] : wrapText(cells[i] ?? '', widths[i]!)));
    const height = Math.max(...wrapped.map((w) => w.length));
    const lines: string[] = [];
    for (let l = 0; l < height; l++) {
      const line = shown.map((i, k) => {
        const cell = wrapped[k]![l] ?? '';
        const pad = ' '.repeat(Math.max(0, widths[i]! - displayWidth(cell)));
        return numeric[i] ? pad + cell : cell + pad;
      });
      lines.push(line.join(' '.repeat(GAP)).trimEnd());
    }
    return lines;
  };
  // A header wraps at its words, its lines aligned to the bottom, above the cells.
  const headerCells = shown.map((i) => wrapText(header[i]!, widths[i]!));
  const headerHeight = Math.max(...headerCells.map((h) => h.length));
  const headerLines: string[] = [];
  for (let l = 0; l < headerHeight; l++) {
    const cells: string[] = [];
    shown.forEach((i, k) => (cells[i] = headerCells[k]![l - (headerHeight - headerCells[k]!.length)] ?? ''));
    headerLines.push(renderRow(cells.map((c) => c ?? ''))[0]!);
  }
  const lines = [...headerLines, ...rows.flatMap(renderRow)];
  if (dropped.length > 0) {
    const names = dropped.sort((a, b) => a - b).map((i) => header[i]).join(', ');
    lines.push(...wrapText(`(not shown, to fit ${max} columns: ${names}; a wider terminal, COLUMNS=${PIPE_WIDTH + 80} or --json shows them)`, max));
  }
  return lines.join('\n');
}

/** Text as lines no wider than the width (terminalWidth() by default). */
export function paragraph(text: string, width = terminalWidth()): string {
  return wrapText(text, width).join('\n');
}

/** `key  value` lines with the keys aligned, a value too long for the width wrapped under itself. */
export function formatKeyValues(rows: Array<[string, string]>, key: (k: string) => string = (k) => k, width = terminalWidth()): string {
  const keyWidth = Math.max(...rows.map(([k]) => k.length));
  const room = Math.max(MIN_WRAPPED, width - keyWidth - GAP);
  const indent = ' '.repeat(keyWidth + GAP);
  return rows
    .map(([k, v]) => {
      const [first, ...more] = v.split('\n').flatMap((part) => wrapText(part, room));
      return [`${key(k.padEnd(keyWidth))}${' '.repeat(GAP)}${first}`.trimEnd(), ...more.map((m) => indent + m)].join('\n');
    })
    .join('\n');
}
