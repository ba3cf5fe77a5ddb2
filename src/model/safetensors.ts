import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../runtime/atomic.js';
import { InputError } from '../runtime/errors.js';

export type SafetensorsDtype = 'F32' | 'F64' | 'I64' | 'I32';

export interface NamedTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array;
}

const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F64: 8, I64: 8, I32: 4 };
const ARRAYS = { F32: Float32Array, F64: Float64Array, I64: BigInt64Array, I32: Int32Array } as const;

/** Float tensors holding NaN or infinite values, with their counts. */
export function nonFiniteTensors(tensors: Map<string, NamedTensor>): { name: string; count: number }[] {
  const found: { name: string; count: number }[] = [];
  for (const [name, tensor] of tensors) {
    if (tensor.dtype !== 'F32' && tensor.dtype !== 'F64') continue;
    let count = 0;
    for (const value of tensor.data as Float32Array | Float64Array) if (!Number.isFinite(value)) count++;
    if (count > 0) found.push({ name, count });
  }
  return found;
}

/** "12 values in model.3.weight, 4 in model.4.weight and 2 more tensors" */
export function describeNonFinite(found: { name: string; count: number }[]): string {
  const shown = found.slice(0, 2).map(({ name, count }, i) => `${count} ${i === 0 ? 'values ' : ''}in ${name}`);
  return `${shown.join(', ')}${found.length > 2 ? ` and ${found.length - 2} more tensors` : ''}`;
}

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header mapping each name to
 * {dtype, shape, data_offsets} (plus "__metadata__", strings only), then the raw little-endian data.
 */
export function encodeSafetensors(
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, tensor] of tensors) {
    const bytes = tensor.data.length * BYTES[tensor.dtype];
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const tensor of tensors.values()) {
    out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), position);
    position += tensor.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(
  bytes: Uint8Array,
  path: string,
): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new InputError(path, 'is not a safetensors file (shorter than its 8-byte header length)');
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > bytes.length - 8 || headerLength > 100_000_000)
    throw new InputError(path, 'is not a safetensors file (impossible header length)');
  let header: Record<
    string,
    { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new InputError(path, 'is not a safetensors file (its header is not JSON)');
  }
  const base = 8 + headerLength;
  const tensors = new Map<string, NamedTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const {
      dtype,
      shape,
      data_offsets: [start, end],
    } = entry as { dtype: SafetensorsDtype; shape: number[]; data_offsets: [number, number] };
    if (!(dtype in ARRAYS))
      throw new InputError(path, `tensor ${name} has dtype ${dtype}; longiseg reads F32, F64, I32 and I64`);
    if (base + end > bytes.length)
      throw new InputError(path, `tensor ${name} lies beyond the end of the file (truncated)`);
    // a copy (Buffer#slice would be a view into Node's shared pool), aligned for the typed array
    const copy = new Uint8Array(end - start);
    copy.set(bytes.subarray(base + start, base + end));
    tensors.set(name, { dtype, shape, data: new ARRAYS[dtype](copy.buffer) });
  }
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}

export async function readSafetensors(path: string): Promise<ReturnType<typeof decodeSafetensors>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new InputError(path, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read', {
      cause: error,
    });
  }
  return decodeSafetensors(bytes, path);
}

export async function writeSafetensors(
  path: string,
  tensors: Map<string, NamedTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
