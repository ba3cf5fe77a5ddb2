import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { constants as zlibConstants, createGzip, gunzip } from 'node:zlib';
import { NIFTI1, NIFTI2, readHeader } from 'nifti-reader-js';
import { InputError } from '../runtime/errors.js';
import { writeAtomic } from '../runtime/atomic.js';
import { determinant3, quaternionToAffine, type Mat4, type Vec3 } from './affine.js';
import { voxelCount, type NiftiXforms, type Volume, type VoxelArray } from './volume.js';

const gunzipAsync = promisify(gunzip);

export type DataTypeName = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

interface DataTypeInfo {
  code: number;
  bytes: number;
  array: { new (buffer: ArrayBuffer): VoxelArray; new (length: number): VoxelArray };
  min: number;
  max: number;
}

const DATA_TYPES: Record<DataTypeName, DataTypeInfo> = {
  uint8: { code: 2, bytes: 1, array: Uint8Array, min: 0, max: 255 },
  int8: { code: 256, bytes: 1, array: Int8Array, min: -128, max: 127 },
  uint16: { code: 512, bytes: 2, array: Uint16Array, min: 0, max: 65535 },
  int16: { code: 4, bytes: 2, array: Int16Array, min: -32768, max: 32767 },
  uint32: { code: 768, bytes: 4, array: Uint32Array, min: 0, max: 4294967295 },
  int32: { code: 8, bytes: 4, array: Int32Array, min: -2147483648, max: 2147483647 },
  float32: { code: 16, bytes: 4, array: Float32Array, min: -Infinity, max: Infinity },
  float64: { code: 64, bytes: 8, array: Float64Array, min: -Infinity, max: Infinity },
};

const UNSUPPORTED_TYPES: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

function dataTypeByCode(code: number): [DataTypeName, DataTypeInfo] | undefined {
  return (Object.entries(DATA_TYPES) as [DataTypeName, DataTypeInfo][]).find(([, info]) => info.code === code);
}

export interface ReadOptions {
  /**
   * 'label': values must be finite integers. 'image': values must be finite, unless `nanToNum`
   * replaces NaN and infinite voxels with 0 (said through onWarning).
   */
  kind?: 'image' | 'label';
  nanToNum?: boolean;
  /** Refuse 4D files (a 4D file with one frame counts as 3D). */
  require3D?: boolean;
  onWarning?: (message: string) => void;
}

/** Reads a NIfTI-1 or NIfTI-2 file (.nii or .nii.gz); every problem is an InputError naming `path`. */
export async function readNifti(path: string, options: ReadOptions = {}): Promise<Volume> {
  let bytes = await readBytes(path);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (error) {
      throw new InputError(path, `truncated or corrupt gzip data (${(error as Error).message})`, { cause: error });
    }
  }
  const volume = decodeNifti(bytes, path);
  if (options.require3D && volume.shape.length > 3) {
    throw new InputError(path, `is 4D (${volume.shape.join('×')}) where a 3D volume is required`);
  }
  if (options.require3D && volume.shape.some((n) => n < 2)) {
    throw new InputError(
      path,
      `is ${volume.shape.filter((n) => n > 1).length}D (${volume.shape.join('×')}) where a 3D volume is required`,
    );
  }
  checkValues(volume, path, options);
  return volume;
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, not a NIfTI file'
          : `cannot be read (${code})`;
    throw new InputError(path, problem, { cause: error });
  }
}

function detectVersion(bytes: Uint8Array, path: string): 1 | 2 {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = (offset: number, length: number) => String.fromCharCode(...bytes.subarray(offset, offset + length));
  if (bytes.length >= 348 && (text(344, 4) === 'n+1\0' || text(344, 4) === 'ni1\0')) {
    if (text(344, 4) === 'ni1\0')
      throw new InputError(path, 'is the header of an .hdr/.img pair; convert it to a single .nii file');
    const size = view.getInt32(0, true);
    if (size !== 348 && view.getInt32(0, false) !== 348) {
      throw new InputError(path, `NIfTI-1 header has sizeof_hdr ${size}, expected 348 (corrupt header)`);
    }
    return 1;
  }
  if (bytes.length >= 540 && text(4, 4) === 'n+2\0') {
    const size = view.getInt32(0, true);
    if (size !== 540 && view.getInt32(0, false) !== 540) {
      throw new InputError(path, `NIfTI-2 header has sizeof_hdr ${size}, expected 540 (corrupt header)`);
    }
    return 2;
  }
  const problem =
    bytes.length < 348
      ? `is not a NIfTI file (${bytes.length} bytes, shorter than a NIfTI header)`
      : 'is not a NIfTI file (no NIfTI-1 or NIfTI-2 magic in its header)';
  throw new InputError(path, problem);
}

/** Decodes an uncompressed NIfTI file held in memory. */
export function decodeNifti(bytes: Uint8Array, path: string): Volume {
  const version = detectVersion(bytes, path);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const header = readHeader(buffer) as NIFTI1 | NIFTI2;
  const typeEntry = dataTypeByCode(header.datatypeCode);
  if (!typeEntry) {
    const name = UNSUPPORTED_TYPES[header.datatypeCode] ?? `unknown datatype code ${header.datatypeCode}`;
    throw new InputError(
      path,
      `has datatype ${name}, which longiseg does not read (supported: ${Object.keys(DATA_TYPES).join(', ')})`,
    );
  }
  const [, type] = typeEntry;
  const shape = shapeOf(header.dims, path);
  const count = voxelCount(shape);
  const offset = Number(header.vox_offset);
  // voxels start after the header (352 bytes in NIfTI-1, 544 in NIfTI-2, with the 4 extension flag bytes)
  const smallest = version === 1 ? 352 : 544;
  if (!(offset >= smallest))
    throw new InputError(
      path,
      `vox_offset ${offset} lies inside the ${smallest}-byte NIfTI-${version} header (corrupt header)`,
    );
  const needed = count * type.bytes;
  if (offset + needed > bytes.length) {
    throw new InputError(
      path,
      `dimensions ${shape.join('×')} need ${needed} bytes of voxel data from offset ${offset}, but the file holds ${Math.max(0, bytes.length - offset)} (truncated, or wrong dimensions)`,
    );
  }
  const raw = buffer.slice(offset, offset + needed);
  if (!header.littleEndian && type.bytes > 1) swapBytes(new Uint8Array(raw), type.bytes);
  let data: VoxelArray = new type.array(raw);
  const slope = header.scl_slope;
  const intercept = header.scl_inter;
  if (Number.isFinite(slope) && slope !== 0 && !(slope === 1 && (intercept === 0 || !Number.isFinite(intercept)))) {
    const scaled = type.array === Float64Array ? new Float64Array(count) : new Float32Array(count);
    const inter = Number.isFinite(intercept) ? intercept : 0;
    for (let i = 0; i < count; i++) scaled[i] = data[i] * slope + inter;
    data = scaled;
  }
  const { xforms, spacing } = readXforms(header, bytes, version);
  const affine = chooseAffine(xforms, spacing);
  const determinant = determinant3(affine);
  if (!(Math.abs(determinant) > 1e-12)) {
    throw new InputError(
      path,
      `has a singular ${xforms.sformCode > 0 ? 'sform' : xforms.qformCode > 0 ? 'qform' : 'pixdim'} affine (determinant ${determinant}): its voxels have no positions in space (corrupt header)`,
    );
  }
  return { data, shape, spacing, affine, xforms };
}

function shapeOf(dims: number[], path: string): number[] {
  const rank = dims[0];
  if (!(rank >= 1 && rank <= 7)) throw new InputError(path, `header dim[0] is ${rank}; it must be 1 to 7`);
  const shape = [1, 1, 1].map((_, axis) => (axis < rank ? dims[axis + 1] : 1));
  // ITK writes vector images (displacement fields) as 5D with one time point: x, y, z, 1, components
  const extra = dims.slice(4, rank + 1).filter((n, i) => !(i === 0 && n === 1 && rank === 5));
  if (extra.slice(1).some((n) => n > 1)) {
    throw new InputError(
      path,
      `has ${rank} dimensions (${dims.slice(1, rank + 1).join('×')}); longiseg reads 3D and 4D images`,
    );
  }
  if (extra.length > 0 && extra[0] > 1) shape.push(extra[0]);
  if (shape.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InputError(path, `header dimensions ${dims.slice(1, rank + 1).join('×')} are not positive integers`);
  }
  return shape;
}

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

function readXforms(
  header: NIFTI1 | NIFTI2,
  bytes: Uint8Array,
  version: 1 | 2,
): { xforms: NiftiXforms; spacing: Vec3 } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // nifti-reader-js keeps srow only when it prefers the sform, so read the three rows directly.
  const sform: Mat4 = [0, 1, 2].map((row) =>
    [0, 1, 2, 3].map((col) =>
      version === 1
        ? view.getFloat32(280 + row * 16 + col * 4, header.littleEndian)
        : view.getFloat64(400 + row * 32 + col * 8, header.littleEndian),
    ),
  );
  sform.push([0, 0, 0, 1]);
  const pixdim = header.pixDims;
  const spacing: Vec3 = [Math.abs(pixdim[1]) || 1, Math.abs(pixdim[2]) || 1, Math.abs(pixdim[3]) || 1];
  return {
    spacing,
    xforms: {
      qformCode: header.qform_code,
      sformCode: header.sform_code,
      quaternion: {
        b: header.quatern_b,
        c: header.quatern_c,
        d: header.quatern_d,
        offset: [header.qoffset_x, header.qoffset_y, header.qoffset_z],
        qfac: pixdim[0] < 0 ? -1 : 1,
      },
      sform,
      xyztUnits: header.xyzt_units,
      timeStep: pixdim[4] ?? 0,
    },
  };
}

/** NIfTI-1 precedence: sform when sform_code > 0, else the qform quaternion, else pixdim alone. */
function chooseAffine(xforms: NiftiXforms, spacing: Vec3): Mat4 {
  if (xforms.sformCode > 0) return xforms.sform.map((row) => [...row]);
  if (xforms.qformCode > 0) return quaternionToAffine(xforms.quaternion, spacing);
  return [
    [spacing[0], 0, 0, 0],
    [0, spacing[1], 0, 0],
    [0, 0, spacing[2], 0],
    [0, 0, 0, 1],
  ];
}

function checkValues(volume: Volume, path: string, options: ReadOptions): void {
  const { data } = volume;
  const isFloat = data instanceof Float32Array || data instanceof Float64Array;
  if (options.kind === 'label') {
    if (!isFloat) return;
    let nonFinite = 0;
    let fractional = 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isFinite(v)) nonFinite++;
      else if (v !== Math.round(v)) fractional++;
    }
    if (nonFinite > 0) throw new InputError(path, `label map holds ${nonFinite} NaN or infinite voxels`);
    if (fractional > 0)
      throw new InputError(path, `label map holds ${fractional} non-integer values; labels must be integers`);
    return;
  }
  if (!isFloat || options.kind !== 'image') return;
  let nonFinite = 0;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      nonFinite++;
      if (options.nanToNum) data[i] = 0;
    }
  }
  if (nonFinite === 0) return;
  if (!options.nanToNum)
    throw new InputError(
      path,
      `holds ${nonFinite} NaN or infinite voxels (of ${data.length}); fix the image, or pass --nan-to-num to replace them with 0`,
    );
  options.onWarning?.(
    `${path}: replaced ${nonFinite} NaN or infinite voxels (of ${data.length}) with 0 (--nan-to-num)`,
  );
}

export interface WriteOptions {
  datatype?: DataTypeName;
  description?: string;
  /** Store round((value − intercept) / slope) with scl_slope/scl_inter set, so readers get value back. */
  scaling?: { slope: number; intercept: number };
}

/** The smallest integer datatype that holds every value of a label map. */
export function smallestLabelType(data: ArrayLike<number>): DataTypeName {
  let min = 0;
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < min) min = data[i];
    if (data[i] > max) max = data[i];
  }
  for (const name of ['uint8', 'int16', 'int32'] as const) {
    if (min >= DATA_TYPES[name].min && max <= DATA_TYPES[name].max) return name;
  }
  throw new RangeError(`label values ${min}..${max} do not fit a 32-bit integer`);
}

const NIFTI1_VOX_OFFSET = 352;

/** Writes a NIfTI-1 file (.nii.gz compressed, .nii plain) atomically, keeping the volume's geometry. */
export async function writeNifti(path: string, volume: Volume, options: WriteOptions = {}): Promise<void> {
  const datatype = options.datatype ?? 'float32';
  const scaling = options.scaling ?? { slope: 1, intercept: 0 };
  const header = encodeNifti1Header(volume, datatype, options.description ?? 'longiseg', scaling);
  const data = encodeData(volume.data, datatype, path, scaling);
  await writeAtomic(path, async (temporary) => {
    const chunks = Readable.from([header, data]);
    if (path.endsWith('.gz')) {
      await pipeline(chunks, createGzip({ level: zlibConstants.Z_BEST_SPEED }), createWriteStream(temporary));
    } else {
      await pipeline(chunks, createWriteStream(temporary));
    }
  });
}

function encodeNifti1Header(
  volume: Volume,
  datatype: DataTypeName,
  description: string,
  scaling: { slope: number; intercept: number },
): Uint8Array {
  const bytes = new Uint8Array(NIFTI1_VOX_OFFSET);
  const view = new DataView(bytes.buffer);
  const type = DATA_TYPES[datatype];
  const { xforms, shape, spacing } = volume;
  view.setInt32(0, 348, true);
  view.setInt16(40, shape.length, true);
  for (let axis = 0; axis < 7; axis++) view.setInt16(42 + axis * 2, shape[axis] ?? 1, true);
  view.setInt16(70, type.code, true);
  view.setInt16(72, type.bytes * 8, true);
  const pixdim = [xforms.quaternion.qfac, spacing[0], spacing[1], spacing[2], xforms.timeStep, 1, 1, 1];
  pixdim.forEach((value, i) => view.setFloat32(76 + i * 4, value, true));
  view.setFloat32(108, NIFTI1_VOX_OFFSET, true);
  view.setFloat32(112, scaling.slope, true);
  view.setFloat32(116, scaling.intercept, true);
  view.setUint8(123, xforms.xyztUnits);
  new TextEncoder().encodeInto(description.slice(0, 79), bytes.subarray(148, 228));
  view.setInt16(252, xforms.qformCode, true);
  view.setInt16(254, xforms.sformCode, true);
  const q = xforms.quaternion;
  [q.b, q.c, q.d, ...q.offset].forEach((value, i) => view.setFloat32(256 + i * 4, value, true));
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 4; col++) view.setFloat32(280 + row * 16 + col * 4, xforms.sform[row][col], true);
  }
  bytes.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"; the four bytes after the header (no extensions) stay 0
  return bytes;
}

function encodeData(
  data: VoxelArray,
  datatype: DataTypeName,
  path: string,
  scaling: { slope: number; intercept: number },
): Uint8Array {
  const type = DATA_TYPES[datatype];
  const Target = type.array;
  const unscaled = scaling.slope === 1 && scaling.intercept === 0;
  if (data.constructor === Target && unscaled) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Target(data.length);
  const integer = type.min !== -Infinity;
  for (let i = 0; i < data.length; i++) {
    const stored = unscaled ? data[i] : (data[i] - scaling.intercept) / scaling.slope;
    const value = integer ? Math.round(stored) : stored;
    if (integer && !(value >= type.min && value <= type.max)) {
      throw new RangeError(`${path}: value ${data[i]} at voxel ${i} does not fit datatype ${datatype}`);
    }
    out[i] = value;
  }
  return new Uint8Array(out.buffer);
}
