import { chooseBackend, isResolvable } from '../../src/engine/backend.js';
import { gpuDeviceFiles } from '../../src/engine/webgpu.js';
import { onPath, runCli } from '../helpers.js';

describe('the longiseg executable', () => {
  test('--help lists the commands and global options', () => {
    const result = runCli(['--help']);
    expect(result.status).toBe(0);
    for (const text of ['doctor', '--log-format', '--quiet', '--backend', '--seed', '--config', '--version']) {
      expect(result.stdout).toContain(text);
    }
  });

  test('--version prints the package version', () => {
    const result = runCli(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('an unknown command is a usage error (exit 2)', () => {
    const result = runCli(['frobnicate']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('Unknown argument: frobnicate');
  });

  test('doctor reports Node, the back end auto picks and why, and the external tools', () => {
    const result = runCli(['doctor', '--json']);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.node).toBe(process.version);
    if (isResolvable('@tensorflow/tfjs-node-gpu') || isResolvable('@tensorflow/tfjs-node')) {
      expect(report.backend.name).toBe('tensorflow');
    } else if (gpuDeviceFiles()?.length) {
      expect(['webgpu', 'wasm']).toContain(report.backend.name);
    } else {
      expect(report.backend).toMatchObject({ name: 'wasm', packageName: '@tensorflow/tfjs-backend-wasm' });
      expect(report.backend.reason).toMatch(
        /^neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed; no GPU device/,
      );
    }
    expect(report.tools.map((t: { name: string }) => t.name)).toEqual([
      'antsRegistration',
      'antsApplyTransforms',
      'N4BiasFieldCorrection',
      'elastix',
      'transformix',
    ]);
    for (const tool of report.tools as { name: string; found: boolean; version?: string }[]) {
      expect([tool.name, tool.found]).toEqual([tool.name, onPath(tool.name)]);
      if (tool.name === 'elastix' && tool.found) expect(tool.version).toMatch(/^\d+\.\d+/);
    }
    expect(report.machine.cpus).toBeGreaterThan(0);
  });
});

describe('back-end choice', () => {
  const installed = (names: string[]) => (name: string) => names.includes(name);
  test('auto prefers the GPU package, then native CPU, then WebAssembly, then pure JS', () => {
    expect(
      chooseBackend(
        'auto',
        installed(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm']),
      ).packageName,
    ).toBe('@tensorflow/tfjs-node-gpu');
    expect(
      chooseBackend('auto', installed(['@tensorflow/tfjs-node', '@tensorflow/tfjs-backend-wasm'])).packageName,
    ).toBe('@tensorflow/tfjs-node');
    expect(chooseBackend('auto', installed(['@tensorflow/tfjs-backend-wasm'])).name).toBe('wasm');
    expect(chooseBackend('auto', installed([])).name).toBe('cpu');
  });
  test('asking for tensorflow without the package is a usage error that says what to install', () => {
    expect(() => chooseBackend('tensorflow', installed([]))).toThrow(
      /needs @tensorflow\/tfjs-node-gpu or @tensorflow\/tfjs-node installed/,
    );
  });
});
