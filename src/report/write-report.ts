import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../runtime/atomic.js';
import { GENERATOR_TAG } from './html.js';

export interface ReportLogger {
  warn(message: string): void;
}

/**
 * Renders and writes a report atomically, replacing an earlier report but no other file. A report is a by-product: when it fails to render, the
 * stage's own outputs stand, and a warning says what went wrong.
 */
export async function writeReport(
  path: string,
  render: () => Promise<string>,
  logger: ReportLogger,
): Promise<string | undefined> {
  if (existsSync(path) && !readFileSync(path, 'utf8').includes(GENERATOR_TAG)) {
    logger.warn(`the report ${path} was not written: a file of that name is there and longiseg did not write it`);
    return undefined;
  }
  try {
    await writeFileAtomic(path, await render());
    return path;
  } catch (error) {
    logger.warn(`the report ${path} was not written: ${(error as Error).message}`);
    return undefined;
  }
}
