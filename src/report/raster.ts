import { PNG } from 'pngjs';
import { grayLevel, type IntensityWindow, type Slice } from './slices.js';

export type Rgb = [number, number, number];

/** An RGB picture, row-major, three bytes a pixel. */
export interface Raster {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export function grayRaster(slice: Slice, window: IntensityWindow): Raster {
  const rgb = new Uint8Array(3 * slice.values.length);
  slice.values.forEach((value, n) => rgb.fill(grayLevel(value, window), 3 * n, 3 * n + 3));
  return { width: slice.width, height: slice.height, rgb };
}

/** Labels blended over a picture of the same slice: round((1 − opacity)·under + opacity·colour). */
export function blendLabels(under: Raster, labels: Slice, colourOf: (label: number) => Rgb, opacity = 0.5): Raster {
  const rgb = Uint8Array.from(under.rgb);
  labels.values.forEach((label, n) => {
    if (label === 0) return;
    const colour = colourOf(label);
    for (let c = 0; c < 3; c++) rgb[3 * n + c] = Math.round((1 - opacity) * under.rgb[3 * n + c] + opacity * colour[c]);
  });
  return { ...under, rgb };
}

/** Pixels where `mask` is set painted in one colour. */
export function paintMask(under: Raster, mask: Uint8Array, colour: Rgb): Raster {
  const rgb = Uint8Array.from(under.rgb);
  mask.forEach((on, n) => {
    if (on) rgb.set(colour, 3 * n);
  });
  return { ...under, rgb };
}

/**
 * Edges of a slice: where the Sobel gradient magnitude is in the top `share` of the nonzero
 * magnitudes. Drawn over another image on the same grid, they show how well the two line up.
 */
export function edgeMask(slice: Slice, share = 0.12): Uint8Array {
  const { width, height, values } = slice;
  const at = (c: number, r: number) =>
    values[Math.min(width - 1, Math.max(0, c)) + width * Math.min(height - 1, Math.max(0, r))];
  const magnitude = new Float32Array(values.length);
  for (let r = 0; r < height; r++)
    for (let c = 0; c < width; c++) {
      const gx =
        at(c + 1, r - 1) + 2 * at(c + 1, r) + at(c + 1, r + 1) - at(c - 1, r - 1) - 2 * at(c - 1, r) - at(c - 1, r + 1);
      const gy =
        at(c - 1, r + 1) + 2 * at(c, r + 1) + at(c + 1, r + 1) - at(c - 1, r - 1) - 2 * at(c, r - 1) - at(c + 1, r - 1);
      magnitude[c + width * r] = Math.hypot(gx, gy);
    }
  const sorted = magnitude.filter((m) => m > 0).sort();
  const threshold = sorted.length > 0 ? sorted[Math.floor((1 - share) * (sorted.length - 1))] : Infinity;
  return Uint8Array.from(magnitude, (m) => (m > 0 && m >= threshold ? 1 : 0));
}

/** Each pixel repeated so that one screen pixel is `mmPerPixel` millimetres across and down. */
export function toPhysicalSize(raster: Raster, pixel: [number, number], mmPerPixel: number): Raster {
  const fx = Math.max(1, Math.round(pixel[0] / mmPerPixel));
  const fy = Math.max(1, Math.round(pixel[1] / mmPerPixel));
  if (fx === 1 && fy === 1) return raster;
  const width = raster.width * fx;
  const height = raster.height * fy;
  const rgb = new Uint8Array(3 * width * height);
  for (let r = 0; r < height; r++)
    for (let c = 0; c < width; c++) {
      const from = 3 * (Math.floor(c / fx) + raster.width * Math.floor(r / fy));
      rgb.set(raster.rgb.subarray(from, from + 3), 3 * (c + width * r));
    }
  return { width, height, rgb };
}

/** Pictures side by side, tops aligned, on a white ground with `gap` pixels between them. */
export function sideBySide(rasters: Raster[], gap = 4): Raster {
  const width = rasters.reduce((sum, r) => sum + r.width, 0) + gap * Math.max(0, rasters.length - 1);
  const height = Math.max(...rasters.map((r) => r.height));
  const rgb = new Uint8Array(3 * width * height).fill(255);
  let left = 0;
  for (const raster of rasters) {
    for (let r = 0; r < raster.height; r++)
      rgb.set(raster.rgb.subarray(3 * r * raster.width, 3 * (r + 1) * raster.width), 3 * (left + width * r));
    left += raster.width + gap;
  }
  return { width, height, rgb };
}

export function encodePng(raster: Raster): Uint8Array {
  const png = new PNG({
    width: raster.width,
    height: raster.height,
    colorType: 2,
    inputColorType: 2,
    inputHasAlpha: false,
  });
  png.data = Buffer.from(raster.rgb);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}
