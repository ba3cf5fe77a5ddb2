import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from './errors.js';

/** Temporary files being written right now; removed by cleanupPendingWrites() when a run is stopped. */
const pending = new Set<string>();

export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Write `path` atomically: `produce` writes a temporary file in the same folder, which is fsynced and
 * renamed onto `path` only when complete. A reader therefore sees either no file or the whole file,
 * also when the process is killed mid-write.
 */
export async function writeAtomic(path: string, produce: (temporaryPath: string) => Promise<void>): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
  } catch (error) {
    throw new InputError(dirname(path), `cannot create the output folder (${(error as Error).message})`, { cause: error });
  }
  const temporary = temporaryPathFor(path);
  pending.add(temporary);
  try {
    await produce(temporary);
    const handle = await open(temporary, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EROFS') throw new InputError(path, `cannot write here (${code})`, { cause: error });
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new InputError(path, `no space left to write it (${code}); nothing half-written was kept`, { cause: error });
    throw error;
  } finally {
    pending.delete(temporary);
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeAtomic(path, async (temporary) => {
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
  });
}

/**
 * Builds a whole output folder at once: `produce` fills a staging folder beside `path`, which then
 * replaces `path` (an earlier folder there is removed only after the new one is in place). An
 * interrupted or failed run leaves `path` as it was.
 */
export async function writeFolderAtomic(path: string, produce: (stagingPath: string) => Promise<void>): Promise<void> {
  const staging = `${path}.partial-${process.pid}`;
  const previous = `${path}.previous-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  pending.add(staging);
  try {
    await produce(staging);
    let hadPrevious = true;
    try {
      await rename(path, previous);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      hadPrevious = false;
    }
    await rename(staging, path);
    if (hadPrevious) await rm(previous, { recursive: true, force: true });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  } finally {
    pending.delete(staging);
  }
}

/** Synchronously removes every temporary file and staging folder still being written (for signal handlers). */
export function cleanupPendingWrites(): void {
  for (const temporary of pending) rmSync(temporary, { recursive: true, force: true });
  pending.clear();
}
