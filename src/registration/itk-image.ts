import { Image, ImageType } from 'itk-wasm';
import { columnNorms } from '../io/affine.js';
import type { Volume } from '../io/volume.js';

/** A 3D volume as an itk-wasm image: LPS origin and direction (row-major), float32 voxels. */
export function toItkImage(volume: Volume): Image {
  const image = new Image(new ImageType(3, 'float32', 'Scalar', 1));
  const spacing = columnNorms(volume.affine);
  const lps = [-1, -1, 1];
  image.origin = [0, 1, 2].map((i) => lps[i] * volume.affine[i][3]);
  image.spacing = [...spacing];
  image.direction = Float64Array.from(
    { length: 9 },
    (_, n) => (lps[Math.floor(n / 3)] * volume.affine[Math.floor(n / 3)][n % 3]) / spacing[n % 3],
  );
  image.size = volume.shape.slice(0, 3);
  image.data = volume.data instanceof Float32Array ? volume.data : Float32Array.from(volume.data);
  return image;
}
