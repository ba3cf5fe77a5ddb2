import { UsageError } from '../runtime/errors.js';
import { probeTool } from '../runtime/system.js';
import { ElastixCli } from './elastix-cli.js';
import type { Registrar } from './registrar.js';

export type RegistrationRequest = 'auto' | 'ants' | 'elastix' | 'elastix-wasm';

/**
 * The registration back end: `auto` takes the elastix command line when elastix and transformix are
 * on PATH. The ANTs and embedded elastix-wasm back ends are not in this version yet; asking for them
 * says so.
 */
export async function chooseRegistrar(request: RegistrationRequest, threads: number): Promise<{ registrar: Registrar; reason: string }> {
  if (request === 'ants' || request === 'elastix-wasm') {
    throw new UsageError(`--registration ${request} is not available in this version of longiseg; use --registration elastix (Debian/Ubuntu: apt-get install elastix)`);
  }
  const [elastix, transformix] = await Promise.all([probeTool('elastix', ['--version'], /elastix version:?\s*(\S+)/i), probeTool('transformix', ['--version'], /transformix version:?\s*(\S+)/i)]);
  if (elastix.found && transformix.found) {
    return { registrar: new ElastixCli(elastix.version ?? 'unknown', threads), reason: `${request === 'auto' ? 'auto: ' : ''}elastix ${elastix.version ?? ''} at ${elastix.path}` };
  }
  throw new UsageError(`no registration tool found: ${elastix.found ? 'transformix' : 'elastix'} is not on PATH (Debian/Ubuntu: apt-get install elastix)`);
}
