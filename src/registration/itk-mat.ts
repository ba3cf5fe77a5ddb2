/**
 * ITK's MATLAB transform files (ANTs' `*0GenericAffine.mat`): MATLAB v4 matrices, one with the
 * 12 affine parameters (`AffineTransform_double_3_3` or `…_float_3_3`), one named `fixed` with the centre.
 */
export interface ItkMatTransform {
  type: string;
  parameters: number[];
  fixed: number[];
}

/** Reads MATLAB v4 matrices (little-endian, real, double or float); undefined when the bytes are not such a file. */
function readMatlabV4(bytes: Uint8Array): Map<string, number[]> | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const variables = new Map<string, number[]>();
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (offset + 20 > bytes.byteLength) return undefined;
    const [type, rows, columns, imaginary, nameLength] = [0, 1, 2, 3, 4].map((i) =>
      view.getInt32(offset + 4 * i, true),
    );
    const precision = Math.floor(type / 10) % 10; // MOPT: 0 double, 1 float
    if (
      type >= 1000 ||
      imaginary !== 0 ||
      (precision !== 0 && precision !== 1) ||
      type % 10 !== 0 ||
      rows < 0 ||
      columns < 0 ||
      nameLength < 1
    )
      return undefined;
    offset += 20;
    const size = precision === 0 ? 8 : 4;
    const end = offset + nameLength + rows * columns * size;
    if (end > bytes.byteLength) return undefined;
    const name = new TextDecoder().decode(bytes.subarray(offset, offset + nameLength - 1));
    offset += nameLength;
    const values = Array.from({ length: rows * columns }, (_, i) =>
      precision === 0 ? view.getFloat64(offset + 8 * i, true) : view.getFloat32(offset + 4 * i, true),
    );
    variables.set(name, values);
    offset = end;
  }
  return variables;
}

export function readItkMatTransform(bytes: Uint8Array): ItkMatTransform | undefined {
  const variables = readMatlabV4(bytes);
  if (!variables) return undefined;
  const entry = [...variables].find(([name]) =>
    /^(AffineTransform|MatrixOffsetTransformBase)_(double|float)_3_3$/.test(name),
  );
  const fixed = variables.get('fixed');
  if (
    !entry ||
    entry[1].length !== 12 ||
    !fixed ||
    fixed.length !== 3 ||
    [...entry[1], ...fixed].some((v) => !Number.isFinite(v))
  )
    return undefined;
  return { type: entry[0], parameters: entry[1], fixed };
}

/** ITK's text transform format, which antsRegistration reads as an initial transform. */
export function formatItkTextAffine(parameters: number[], fixed: number[] = [0, 0, 0]): string {
  return [
    '#Insight Transform File V1.0',
    '#Transform 0',
    'Transform: AffineTransform_double_3_3',
    `Parameters: ${parameters.join(' ')}`,
    `FixedParameters: ${fixed.join(' ')}`,
    '',
  ].join('\n');
}
