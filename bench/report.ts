/** Table printing and budget bookkeeping shared by the bench sections. */

export interface BudgetResult {
  section: string;
  subject: string;
  pass: boolean;
}

const results: BudgetResult[] = [];

/** Records a budget check and returns the PASS/FAIL cell for it. */
export function check(section: string, subject: string, pass: boolean): string {
  results.push({ section, subject, pass });
  return pass ? 'PASS' : 'FAIL';
}

export function budgetResults(): readonly BudgetResult[] {
  return results;
}

/** Prints rows as a plain-text table; columns whose header starts with '>' are right-aligned. */
export function printTable(headers: string[], rows: (string | number)[][]): void {
  const right = headers.map((h) => h.startsWith('>'));
  const names = headers.map((h) => h.replace(/^>/, ''));
  const cells = rows.map((r) => r.map(String));
  const widths = names.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (right[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  console.log(line(names));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) console.log(line(r));
}

export function heading(title: string): void {
  console.log(`\n== ${title} ${'='.repeat(Math.max(0, 86 - title.length))}`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Logs progress to stderr so stdout stays the report. */
export function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}
