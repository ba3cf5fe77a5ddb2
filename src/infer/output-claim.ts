import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../runtime/atomic.js';
import { UsageError } from '../runtime/errors.js';

/** Which model a prediction folder holds the outputs of, so that two models never mix in one folder. */
interface ModelRecord {
  model: string;
  sha256: string;
}

const RECORD = '.longiseg-model.json';

/**
 * Claims `out` for the model at `modelPath`: the first run records the model (created exclusively,
 * so that of two runs started together one wins); a run with another model is refused unless
 * `overwrite`, which records the new one and returns the model it replaces.
 */
export async function claimOutputFolder(
  out: string,
  modelPath: string,
  overwrite: boolean,
): Promise<string | undefined> {
  const record: ModelRecord = {
    model: resolve(modelPath),
    sha256: createHash('sha256')
      .update(await readFile(modelPath))
      .digest('hex'),
  };
  const path = join(out, RECORD);
  try {
    const handle = await open(path, 'wx');
    await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`);
    await handle.close();
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  let held: Partial<ModelRecord> = {};
  try {
    held = JSON.parse(readFileSync(path, 'utf8')) as ModelRecord;
  } catch {
    // an unreadable record is replaced below
  }
  if (held.sha256 === record.sha256) return undefined;
  if (held.sha256 && !overwrite) {
    throw new UsageError(
      `${out} holds predictions of another model (${held.model}, sha256 ${held.sha256.slice(0, 12)}…); choose another --out, or pass --overwrite to replace them`,
    );
  }
  await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
  return held.model;
}
