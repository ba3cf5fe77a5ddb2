import type { LabelTable } from '../io/labels.js';
import type { Rgb } from './raster.js';
import { escapeHtml } from './html.js';

/** Twenty distinct colours (Tableau's category20). */
const COLOURS: Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [188, 189, 34],
  [23, 190, 207],
  [174, 199, 232],
  [255, 187, 120],
  [152, 223, 138],
  [255, 152, 150],
  [197, 176, 213],
  [196, 156, 148],
  [247, 182, 210],
  [219, 219, 141],
  [158, 218, 229],
  [127, 127, 127],
  [199, 199, 199],
];

/** The colour of a foreground label: label n takes the n-th colour, so that every report agrees. */
export function labelColour(label: number): Rgb {
  return COLOURS[(Math.abs(Math.round(label)) + COLOURS.length - 1) % COLOURS.length];
}

export function colourHex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** A legend: a swatch and the name (from the label table, else the number) of each label. */
export function legend(labels: number[], table?: LabelTable): string {
  const items = labels
    .filter((l) => l !== 0)
    .map((label) => {
      const name = table?.get(label) ?? `label ${label}`;
      return `<span><i class="swatch" style="background:${colourHex(labelColour(label))}"></i>${escapeHtml(`${label} ${name}`)}</span>`;
    });
  return `<div class="legend">${items.join('')}</div>`;
}
