import type { Argv } from 'yargs';
import { resolveBackend, type BackendRequest } from '../src/engine/backend.js';
import { describeAdapter, gpuAdapter, type AdapterSummary } from '../src/engine/webgpu.js';
import { EXTERNAL_TOOLS, formatBytes, machineInfo, probeImport, probeTool } from '../src/runtime/system.js';
import { ExitCode } from '../src/runtime/errors.js';
import { defaultThreads } from '../src/runtime/threads.js';
import type { LongisegCommand } from './command.js';
import type { GlobalArgs } from './context.js';

interface DoctorArgs {
  json?: boolean;
}

export const doctorCommand: LongisegCommand<DoctorArgs> = {
  command: 'doctor',
  describe:
    'Show what this machine offers: Node, tfjs back ends, the WebGPU adapter, ANTs, elastix, CPUs, memory, disk',
  builder: (yargs: Argv<GlobalArgs>) => yargs.option('json', { type: 'boolean', describe: 'Print the report as JSON' }),
  async run(argv) {
    const backend = await resolveBackend((argv.backend ?? 'auto') as BackendRequest);
    const gpu: AdapterSummary | { unavailable: string } = await gpuAdapter().catch((error: Error) => ({
      unavailable: error.message,
    }));
    const [tools, elastixWasm, machine] = await Promise.all([
      Promise.all(EXTERNAL_TOOLS.map(([name, args, pattern]) => probeTool(name, args, pattern))),
      probeImport('@itk-wasm/elastix'),
      machineInfo(process.cwd()),
    ]);
    const threads = defaultThreads();
    const report = { node: machine.node, backend, webgpu: gpu, threads, tools, itkWasmElastix: elastixWasm, machine };
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return ExitCode.ok;
    }
    const rows: [string, string][] = [
      ['Node.js', machine.node],
      ['tfjs back end', `${backend.name} (${backend.packageName}): ${backend.reason}`],
      ['WebGPU adapter', 'unavailable' in gpu ? `none: ${gpu.unavailable}` : describeAdapter(gpu)],
      ...tools.map((tool): [string, string] => [
        tool.name,
        tool.found ? `${tool.version ?? 'version unknown'} (${tool.path})` : 'not on PATH',
      ]),
      ['@itk-wasm/elastix', elastixWasm.detail],
      ['CPUs', String(machine.cpus)],
      ['threads', `${threads.threads} by default (${threads.source}); --threads N to change`],
      ['memory', `${formatBytes(machine.memoryFreeBytes)} free of ${formatBytes(machine.memoryTotalBytes)}`],
      [
        'disk',
        machine.diskFreeBytes === undefined
          ? 'unknown'
          : `${formatBytes(machine.diskFreeBytes)} free in ${process.cwd()}`,
      ],
    ];
    const width = Math.max(...rows.map(([name]) => name.length)) + 2;
    process.stdout.write(rows.map(([name, value]) => `${name.padEnd(width)}${value}\n`).join(''));
    return ExitCode.ok;
  },
};
