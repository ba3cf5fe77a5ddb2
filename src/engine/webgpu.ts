import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { GpuDeviceError } from '../runtime/errors.js';

/*
 * WebGPU in Node through Dawn (the npm package `webgpu`, whose prebuilt dawn.node ships inside the
 * package): Vulkan on Linux, Metal on macOS, D3D12 on Windows. tfjs's WebGPU back end looks for
 * navigator.gpu, which Node does not have; this provides it.
 */

/** What `longiseg doctor` and the logs say of a GPU adapter. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU implementation (Mesa's llvmpipe/lavapipe, SwiftShader, WARP). */
  software: boolean;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

interface GpuAdapter {
  info: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter?: boolean };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

interface Gpu {
  requestAdapter(options?: object): Promise<GpuAdapter | null>;
}

/** Why WebGPU cannot be used here, for the message that says so. */
export class WebGpuUnavailable extends Error {}

let gpu: Gpu | undefined;

/** navigator.gpu from Dawn; throws WebGpuUnavailable when the optional package `webgpu` is missing or does not load. */
async function dawn(): Promise<Gpu> {
  if (gpu) return gpu;
  // Mesa's Vulkan drivers warn on every start without it
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  // the package types its GPU by @webgpu/types (the browser's interfaces), which this project does not load
  let module: { create(flags: string[]): Gpu; globals: object };
  try {
    const loaded: unknown = await import('webgpu');
    module = loaded as typeof module;
  } catch (error) {
    throw new WebGpuUnavailable(
      `the optional package webgpu (Dawn for Node) is not installed or does not load: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  gpu = module.create([]);
  // GPUBufferUsage and the other constants tfjs's back end reads from the global scope
  Object.assign(globalThis, module.globals);
  const navigator = (globalThis as { navigator?: object }).navigator;
  if (navigator) Object.defineProperty(navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

let probed: Promise<AdapterSummary> | undefined;

/** The adapter Dawn would use (the one tfjs's back end takes), or why there is none; probed once per process. */
export function gpuAdapter(): Promise<AdapterSummary> {
  return (probed ??= probeAdapter());
}

async function probeAdapter(): Promise<AdapterSummary> {
  const adapter = await (await dawn()).requestAdapter();
  if (!adapter) {
    throw new WebGpuUnavailable(
      'Dawn found no GPU adapter: no Vulkan driver (Linux: a GPU driver, or Mesa ≥ 25 for the CPU adapter llvmpipe; Mesa 22 is too old for Dawn)',
    );
  }
  const { info, limits } = adapter;
  const software =
    info.isFallbackAdapter === true ||
    info.architecture === 'software' ||
    /llvmpipe|lavapipe|swiftshader|warp/i.test(`${info.device} ${info.description}`);
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description || info.device,
    software,
    maxBufferSize: limits.maxBufferSize,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
  };
}

/**
 * The GPU device files of this Linux machine (NVIDIA's /dev/nvidiaN, DRM render nodes of AMD and
 * Intel, WSL's /dev/dxg); a hardware adapter needs one. Elsewhere (macOS, Windows) undefined: no
 * such test.
 */
export function gpuDeviceFiles(platform = process.platform): string[] | undefined {
  if (platform !== 'linux') return undefined;
  const list = (folder: string, pattern: RegExp) => {
    try {
      return readdirSync(folder)
        .filter((name) => pattern.test(name))
        .map((name) => `${folder}/${name}`);
    } catch {
      return [];
    }
  };
  return [...list('/dev', /^(nvidia\d+|dxg)$/), ...list('/dev/dri', /^renderD\d+$/)];
}

/** One line for logs and doctor: "NVIDIA hopper (NVIDIA H200), max buffer 4.0 GiB, storage binding 128 MiB". */
export function describeAdapter(adapter: AdapterSummary): string {
  const size = (bytes: number) =>
    bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
  const name = [adapter.vendor, adapter.architecture].filter(Boolean).join(' ');
  return `${name || 'unknown adapter'} (${adapter.description})${adapter.software ? ', a software adapter on the CPU' : ''}, max buffer ${size(adapter.maxBufferSize)}, storage binding ${size(adapter.maxStorageBufferBindingSize)}`;
}

interface GpuDevice {
  lost: Promise<{ reason: string; message: string }>;
  addEventListener(type: 'uncapturederror', listener: (event: { error: { message: string } }) => void): void;
}

let deviceFailure: string | undefined;

/**
 * Records the first failure of the back end's GPU device: lost (driver reset, device removed) or an
 * operation it refused (out of memory, a limit exceeded). tfjs does not watch for these, and what it
 * computes after one is garbage; checkGpuDevice (and every readValues) turns it into an error.
 */
export function watchGpuDevice(device: GpuDevice): void {
  deviceFailure = undefined;
  void device.lost.then(({ reason, message }) => (deviceFailure ??= `the GPU device was lost (${reason}: ${message})`));
  device.addEventListener(
    'uncapturederror',
    ({ error }) => (deviceFailure ??= `the GPU refused an operation: ${error.message.split('\n')[0]}`),
  );
}

/** Throws GpuDeviceError (exit 4) once the device has failed. */
export function checkGpuDevice(): void {
  if (deviceFailure)
    throw new GpuDeviceError(`${deviceFailure}; the run stops here, its checkpoints keep their last complete state`);
}

/** Registers tfjs's WebGPU back end on Dawn's navigator.gpu. */
export async function registerWebGpu(): Promise<void> {
  await dawn();
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (error) {
    throw new WebGpuUnavailable(
      `the optional package @tensorflow/tfjs-backend-webgpu is not installed or does not load: ${(error as Error).message.split('\n')[0]}`,
    );
  }
}
