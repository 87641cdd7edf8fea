/**
 * The README's `sh` blocks, as the README test runs them. Each block follows a marker line,
 * `<!-- readme-test: run -->` or `<!-- readme-test: skip: <why it cannot run here> -->`; in a
 * runnable block a comment ending in `→ <text>` says what a line of that command's output is,
 * where `…` stands for any text.
 */
export interface ReadmeBlock {
  /** README line number (1-based) of the block's first line of code. */
  line: number;
  code: string[];
  mark: { run: true } | { run: false; why: string } | null;
}

export interface Expectation {
  /** README line of the annotated command's first and last line. */
  first: number;
  last: number;
  expected: string;
}

const MARK = /^<!--\s*readme-test:\s*(run|skip:\s*(.*?))\s*-->$/;

export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```sh\s*$/.test(lines[i]!)) continue;
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = before >= 0 ? MARK.exec(lines[before]!.trim()) : null;
    const mark = !marker ? null : marker[1] === 'run' ? ({ run: true } as const) : { run: false as const, why: marker[2] ?? '' };
    const code: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^```\s*$/.test(lines[j]!); j++) code.push(lines[j]!);
    blocks.push({ line: i + 2, code, mark });
    i = j;
  }
  return blocks;
}

/** Where a line's shell comment starts (a `#` at a word start outside quotes), or -1. */
export function commentStart(line: string): number {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return i;
  }
  return -1;
}

export function codeOf(line: string): string {
  const at = commentStart(line);
  return (at < 0 ? line : line.slice(0, at)).trimEnd();
}

/** The block's commands that state their output: a command runs on while its line ends in \, | or &&/||. */
export function expectations(block: ReadmeBlock): Expectation[] {
  const found: Expectation[] = [];
  for (let i = 0; i < block.code.length; i++) {
    const start = i;
    const annotated: string[] = [];
    for (;;) {
      const line = block.code[i]!;
      const at = commentStart(line);
      const arrow = at < 0 ? -1 : line.indexOf('→', at);
      if (arrow >= 0) annotated.push(line.slice(arrow + 1).trim());
      if (!/(\\|\||&&)$/.test(codeOf(line)) || i + 1 >= block.code.length) break;
      i++;
    }
    for (const expected of annotated) found.push({ first: block.line + start, last: block.line + i, expected });
  }
  return found;
}

/** Whether some line of the output is the expected text, `…` matching anything. */
export function outputShows(output: string, expected: string): boolean {
  const pattern = new RegExp(`^${expected.split('…').map(escapeRegExp).join('.*')}$`);
  return output.split('\n').some((line) => pattern.test(line.trim()));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Separates the script's output by the README line of the command that printed it. */
export const LINE_MARK = '\x1f';

/**
 * One bash script of the runnable blocks, in README order: `set -eo pipefail`, so a failing
 * command stops it, and a DEBUG trap that writes each command's line before its output.
 * `readmeLine[n]` is the README line of script line n (1-based).
 */
export function scriptOf(blocks: ReadmeBlock[], prelude: string[]): { script: string; readmeLine: number[] } {
  const lines = ['set -eo pipefail', 'exec 2>&1', ...prelude, `trap 'printf "\\n\\x1f%s\\x1f\\n" "$LINENO"' DEBUG`];
  const readmeLine: number[] = [0, ...lines.map(() => 0)];
  for (const block of blocks) {
    block.code.forEach((code, k) => {
      lines.push(code);
      readmeLine.push(block.line + k);
    });
  }
  lines.push('trap - DEBUG');
  return { script: `${lines.join('\n')}\n`, readmeLine };
}

/** What each README line's command printed (all its runs, in order). */
export function outputByReadmeLine(output: string, readmeLine: number[]): Map<number, string> {
  const byLine = new Map<number, string>();
  const parts = output.split(new RegExp(`\\n?${LINE_MARK}(\\d+)${LINE_MARK}\\n`));
  for (let k = 1; k < parts.length; k += 2) {
    const line = readmeLine[Number(parts[k])] ?? 0;
    byLine.set(line, `${byLine.get(line) ?? ''}${parts[k + 1] ?? ''}`);
  }
  return byLine;
}
