/**
 * Glance-style output: glanceclient prints with prettytable (left-aligned, `+---+` borders),
 * Python's str() of each value (None, True, False) and JSON for lists and objects. The few lines
 * here are the whole of what the CLI needs of a table library.
 */
export function pyStr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'object') return JSON.stringify(value, null, 0).replace(/","/g, '", "').replace(/":/g, '": ');
  return String(value);
}

/** prettytable's max_width: a longer value wraps onto more lines (at spaces where it has them). */
function wrap(text: string, width: number | undefined): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    if (!width || paragraph.length <= width) {
      lines.push(paragraph);
      continue;
    }
    let line = '';
    for (const word of paragraph.split(' ')) {
      for (let w = word; w.length; ) {
        const room = line ? width - line.length - 1 : width;
        if (w.length <= room) {
          line = line ? `${line} ${w}` : w;
          w = '';
        } else if (line) {
          lines.push(line);
          line = '';
        } else {
          lines.push(w.slice(0, width));
          w = w.slice(width);
        }
      }
    }
    lines.push(line);
  }
  return lines;
}

export function table(header: string[], rows: string[][], maxWidth?: number): string {
  const wrapped = rows.map((r) => r.map((c) => wrap(c ?? '', maxWidth)));
  const widths = header.map((h, i) => Math.max(h.length, ...wrapped.map((r) => Math.max(...(r[i] ?? ['']).map((l) => l.length)))));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (cells: string[]) => `| ${cells.map((c, i) => (c ?? '').padEnd(widths[i]!)).join(' | ')} |`;
  const body = wrapped.flatMap((r) => {
    const height = Math.max(...r.map((c) => c.length));
    return Array.from({ length: height }, (_, j) => line(r.map((c) => c[j] ?? '')));
  });
  return [rule, line(header), rule, ...body, rule].join('\n');
}

/** `glance image-show`: every property but the links, sorted by name. */
export function propertyTable(object: Record<string, unknown>, ignore: string[] = ['self', 'file', 'schema', 'access']): string {
  const rows = Object.entries(object)
    .filter(([k]) => !ignore.includes(k))
    .map(([k, v]) => [k, k === 'virtual_size' ? pyStr(v ?? 'Not available') : pyStr(v)] as string[])
    .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
  return table(['Property', 'Value'], rows, 80);
}

/** `glance image-list` / `member-list`: the named columns, '' for what an object lacks (glanceclient's `or ''`). */
export function listTable(objects: Array<Record<string, unknown>>, columns: Array<[heading: string, field: string]>): string {
  return table(
    columns.map(([h]) => h),
    objects.map((o) => columns.map(([, f]) => (o[f] === undefined || o[f] === null || o[f] === '' || o[f] === false ? '' : pyStr(o[f])))),
  );
}
