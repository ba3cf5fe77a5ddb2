/** Self-contained HTML pages: inline style, images embedded, nothing fetched from the network. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export type Cell = string | number | null | undefined;

/** A number as a report shows it: fixed digits, an en dash for a missing value. */
export function formatCell(value: Cell, digits = 3): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'string') return escapeHtml(value);
  if (!Number.isFinite(value)) return String(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

export function htmlTable(columns: string[], rows: Cell[][], options: { digits?: number; raw?: boolean } = {}): string {
  const cell = (value: Cell) => (options.raw && typeof value === 'string' ? value : formatCell(value, options.digits));
  // text left, numbers right
  const align = (value: Cell) => (typeof value === 'string' && !/^[-–\d.]+$/.test(value) ? ' class="text"' : '');
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((v) => `<td${align(v)}>${cell(v)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** A figure: inline SVG markup or an embedded image, with its caption. */
export function figure(content: string, caption: string, id?: string): string {
  const anchor = id ? ` id="${escapeHtml(id)}"` : '';
  return `<figure${anchor}>${content}<figcaption>${escapeHtml(caption)}</figcaption></figure>`;
}

export function pngImage(png: Uint8Array, alt: string): string {
  return `<img alt="${escapeHtml(alt)}" src="data:image/png;base64,${Buffer.from(png).toString('base64')}">`;
}

export function section(title: string, body: string, id?: string): string {
  const anchor = id ? ` id="${escapeHtml(id)}"` : '';
  return `<section${anchor}>\n<h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

export function paragraph(text: string): string {
  return `<p>${escapeHtml(text)}</p>`;
}

export interface Page {
  title: string;
  /** One line under the title: what made the page and from which inputs. */
  lead: string;
  sections: string[];
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f5f5f5; } td.text, th { text-align: left; }
figure { display: inline-block; margin: 6px 12px 6px 0; vertical-align: top; } figcaption { color: #555; font-size: 12px; }
pre { white-space: pre-wrap; } img { image-rendering: pixelated; } .legend span { display: inline-block; margin-right: 10px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: middle; }
.flag { color: #b00020; font-weight: 600; }
`;

/** Marks a page as longiseg's, so that a later run may replace it but never a file of the user's. */
export const GENERATOR_TAG = '<meta name="generator" content="longiseg">';

export function renderPage(page: Page): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    GENERATOR_TAG,
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(page.title)}</h1>`,
    `<p class="lead">${escapeHtml(page.lead)}</p>`,
    ...page.sections,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
