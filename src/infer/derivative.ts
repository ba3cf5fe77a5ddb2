import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { formatTsv } from '../io/tsv.js';
import type { ModelInfo } from '../model/model-file.js';
import { writeFileAtomic } from '../runtime/atomic.js';
import { toolVersion } from '../runtime/version.js';

/**
 * The files that make `out` a BIDS derivative dataset: dataset_description.json and, when the model
 * knows its label names, dseg.tsv. Files already there are left as they are.
 */
export async function writeDerivativeFiles(out: string, info: ModelInfo, modelPath: string): Promise<void> {
  const description = join(out, 'dataset_description.json');
  if (!existsSync(description)) {
    const content = {
      Name: 'longiseg predictions',
      BIDSVersion: '1.9.0',
      DatasetType: 'derivative',
      GeneratedBy: [{ Name: 'longiseg', Version: toolVersion, Description: `longiseg predict --model ${modelPath}` }],
    };
    await writeFileAtomic(description, `${JSON.stringify(content, null, 2)}\n`);
  }
  const table = join(out, 'dseg.tsv');
  if (info.labels && !existsSync(table)) {
    const rows = Object.entries(info.labels)
      .map(([index, name]) => [Number(index), name] as [number, string])
      .sort((a, b) => a[0] - b[0]);
    await writeFileAtomic(table, formatTsv(['index', 'name'], rows));
  }
}
