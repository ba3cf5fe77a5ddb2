/**
 * Weight layouts between longiseg (tfjs, NDHWC) and PyTorch (NCDHW).
 *
 * longiseg's tensors are [N, z, y, x, C]: the NIfTI data with x fastest. The reference PyTorch code
 * feeds nibabel arrays, whose spatial axes are (x, y, z). So a PyTorch conv weight
 * [out, in, kx, ky, kz] maps to the tfjs filter [kz, ky, kx, in, out]: channels move last and the
 * spatial kernel axes reverse, and the same checkpoint gives the same output on the same volume in
 * both frameworks. Linear weights [out, in] ↔ [in, out].
 */
export function convToTorch(data: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  const [kz, ky, kx, cin, cout] = shape;
  const out = new Float32Array(data.length);
  for (let z = 0; z < kz; z++)
    for (let y = 0; y < ky; y++)
      for (let x = 0; x < kx; x++)
        for (let i = 0; i < cin; i++)
          for (let o = 0; o < cout; o++)
            out[(((o * cin + i) * kx + x) * ky + y) * kz + z] = data[(((z * ky + y) * kx + x) * cin + i) * cout + o];
  return { data: out, shape: [cout, cin, kx, ky, kz] };
}

export function convFromTorch(data: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  const [cout, cin, kx, ky, kz] = shape;
  const out = new Float32Array(data.length);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let x = 0; x < kx; x++)
        for (let y = 0; y < ky; y++)
          for (let z = 0; z < kz; z++)
            out[(((z * ky + y) * kx + x) * cin + i) * cout + o] = data[(((o * cin + i) * kx + x) * ky + y) * kz + z];
  return { data: out, shape: [kz, ky, kx, cin, cout] };
}

/** [rows, cols] → [cols, rows]; its own inverse. */
export function transpose2d(data: Float32Array, shape: number[]): { data: Float32Array; shape: number[] } {
  const [rows, cols] = shape;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return { data: out, shape: [cols, rows] };
}
