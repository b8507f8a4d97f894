/** A plain text table: columns padded to the widest cell, for terminals. */
export function table(rows, columns) {
  // One row per line: a cell's own line breaks are shown as ⏎.
  const cells = rows.map((r) => columns.map(([, get]) => String(get(r) ?? '').replace(/\r\n?|\n/g, ' ⏎ ')));
  const widths = columns.map(([title], i) => Math.max(title.length, ...cells.map((c) => c[i].length)));
  const line = (values) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns.map(([t]) => t)), ...cells.map(line)].join('\n');
}

export const ago = (iso) => {
  if (!iso) return '';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  const a = Math.abs(s);
  const text = a < 60 ? `${a}s` : a < 3600 ? `${Math.round(a / 60)}m` : a < 86_400 ? `${Math.round(a / 3600)}h` : `${Math.round(a / 86_400)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
};
