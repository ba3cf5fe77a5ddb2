import { readFile } from 'node:fs/promises';
import { InputError } from '../runtime/errors.js';

/** Rows of a BIDS TSV file (tab-separated, header line, no quoting) as records keyed by column. */
export async function readTsv(path: string): Promise<Record<string, string>[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(path, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read', {
      cause: error,
    });
  }
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new InputError(path, 'is empty; a TSV file needs a header line');
  const columns = lines[0].split('\t').map((c) => c.trim());
  return lines.slice(1).map((line, n) => {
    const cells = line.split('\t');
    if (cells.length !== columns.length) {
      throw new InputError(path, `line ${n + 2} has ${cells.length} columns, the header has ${columns.length}`);
    }
    return Object.fromEntries(columns.map((c, i) => [c, cells[i].trim()]));
  });
}

/** A TSV cell: 'n/a' for missing values (BIDS), numbers at full precision. */
export function tsvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined || (typeof value === 'number' && !Number.isFinite(value))) return 'n/a';
  return String(value);
}

export function formatTsv(columns: string[], rows: (string | number | null | undefined)[][]): string {
  return [columns.join('\t'), ...rows.map((row) => row.map(tsvCell).join('\t'))].join('\n') + '\n';
}
