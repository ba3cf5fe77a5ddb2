import type { Volume } from '../io/volume.js';
import {
  blendLabels,
  edgeMask,
  grayRaster,
  paintMask,
  sideBySide,
  toPhysicalSize,
  type Raster,
  type Rgb,
} from './raster.js';
import {
  centreVoxel,
  extractSlice,
  percentileWindow,
  SLICE_VIEWS,
  viewAxis,
  type Convention,
  type IntensityWindow,
  type Slice,
  type SliceView,
} from './slices.js';

export interface MontageOptions {
  convention: Convention;
  /** Screen pixel size in mm (voxels are repeated to it); 1 by default. */
  mmPerPixel?: number;
  /** Where the three slices cross, in voxels of the canonical volume; the centre by default. */
  centre?: [number, number, number];
  window?: IntensityWindow;
}

const EDGE_COLOUR: Rgb = [255, 40, 40];

/** Sagittal, coronal and axial slices of a canonical image side by side, each drawn by `draw` from the image's slice. */
function threeViews(
  image: Volume,
  options: MontageOptions,
  draw: (slice: Slice, view: SliceView, index: number, window: IntensityWindow) => Raster,
): Raster {
  const window = options.window ?? percentileWindow(image.data);
  const centre = options.centre ?? centreVoxel(image);
  const views = SLICE_VIEWS.map((view) => {
    const index = centre[viewAxis(view)];
    const slice = extractSlice(image, view, index, options.convention);
    return toPhysicalSize(draw(slice, view, index, window), slice.pixel, options.mmPerPixel ?? 1);
  });
  return sideBySide(views);
}

/** A label map blended over its image: three orthogonal slices through the labels' centroid. */
export function labelMontage(
  image: Volume,
  labels: Volume,
  colourOf: (label: number) => Rgb,
  options: MontageOptions,
): Raster {
  const centre = options.centre ?? centreVoxel(labels, labels.data);
  return threeViews(image, { ...options, centre }, (slice, view, index, window) =>
    blendLabels(grayRaster(slice, window), extractSlice(labels, view, index, options.convention), colourOf),
  );
}

/** An image with the edges of another on the same grid drawn over it. */
export function edgeMontage(image: Volume, edgesOf: Volume, options: MontageOptions): Raster {
  return threeViews(image, options, (slice, view, index, window) =>
    paintMask(grayRaster(slice, window), edgeMask(extractSlice(edgesOf, view, index, options.convention)), EDGE_COLOUR),
  );
}
