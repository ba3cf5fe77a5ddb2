import { version as elastixWasmVersion } from '@itk-wasm/elastix';
import { UsageError } from '../runtime/errors.js';
import { EXTERNAL_TOOLS, probeTool, type ToolProbe } from '../runtime/system.js';
import { AntsCli } from './ants-cli.js';
import { ElastixCli } from './elastix-cli.js';
import { ElastixWasm } from './elastix-wasm.js';
import type { Registrar } from './registrar.js';

export type RegistrationRequest = 'auto' | 'ants' | 'elastix' | 'elastix-wasm';

const ANTS_TOOLS = ['antsRegistration', 'antsApplyTransforms', 'N4BiasFieldCorrection'];
const ELASTIX_TOOLS = ['elastix', 'transformix'];

async function probeAll(names: string[]): Promise<ToolProbe[]> {
  return Promise.all(
    names.map((name) => {
      const [, args, pattern] = EXTERNAL_TOOLS.find(([tool]) => tool === name)!;
      return probeTool(name, args, pattern);
    }),
  );
}

function missing(probes: ToolProbe[]): string {
  return probes
    .filter((p) => !p.found)
    .map((p) => p.name)
    .join(', ');
}

/**
 * The registration back end. `auto` takes ANTs when its three programs are on PATH, else the elastix
 * command line, else elastix compiled to WebAssembly (always there); the reason says which and why.
 */
export async function chooseRegistrar(
  request: RegistrationRequest,
  threads: number,
): Promise<{ registrar: Registrar; reason: string }> {
  if (request === 'elastix-wasm')
    return {
      registrar: new ElastixWasm(elastixWasmVersion),
      reason: `elastix-wasm ${elastixWasmVersion} (@itk-wasm/elastix, one thread)`,
    };
  if (request === 'auto' || request === 'ants') {
    const ants = await probeAll(ANTS_TOOLS);
    if (ants.every((p) => p.found))
      return {
        registrar: new AntsCli(ants[0].version ?? 'unknown', threads),
        reason: `${request === 'auto' ? 'auto: ' : ''}ANTs ${ants[0].version ?? ''} at ${ants[0].path}`,
      };
    if (request === 'ants')
      throw new UsageError(
        `--registration ants: ${missing(ants)} not on PATH (ANTs ≥ 2.5 puts its programs on PATH; ANTSPATH is no longer read). Use --registration elastix or elastix-wasm`,
      );
  }
  const elastix = await probeAll(ELASTIX_TOOLS);
  if (elastix.every((p) => p.found))
    return {
      registrar: new ElastixCli(elastix[0].version ?? 'unknown', threads),
      reason: `${request === 'auto' ? 'auto: no ANTs; ' : ''}elastix ${elastix[0].version ?? ''} at ${elastix[0].path}`,
    };
  if (request === 'elastix')
    throw new UsageError(
      `--registration elastix: ${missing(elastix)} not on PATH (Debian/Ubuntu: apt-get install elastix), or use --registration elastix-wasm`,
    );
  return {
    registrar: new ElastixWasm(elastixWasmVersion),
    reason: `auto: neither ANTs nor the elastix command line on PATH; elastix-wasm ${elastixWasmVersion} (@itk-wasm/elastix, one thread)`,
  };
}
