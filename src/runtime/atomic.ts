import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from './errors.js';
import { processAlive } from './lock.js';

/** Temporary files being written right now; removed by cleanupPendingWrites() when a run is stopped. */
const pending = new Set<string>();

/** `.NAME.tmp-HOST-PID-RANDOM`: the host and process that write it, so that a later run can tell an orphan. */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

const TEMPORARY = /^\..+\.tmp-(.+)-(\d+)-[0-9a-f]{8}$/;

/**
 * Removes the temporary files below `folder` that processes of this host left when they were killed
 * (SIGKILL, out of memory); a file of another host (a shared file system) or of a live process stays.
 */
export async function removeOrphanTemporaries(folder: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(folder, { recursive: true, withFileTypes: true });
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const match = TEMPORARY.exec(entry.name);
    if (!entry.isFile() || !match || match[1] !== hostname() || processAlive(Number(match[2]))) continue;
    const path = join(entry.parentPath, entry.name);
    await rm(path, { force: true });
    removed.push(path);
  }
  return removed;
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
    throw new InputError(dirname(path), `cannot create the output folder (${(error as Error).message})`, {
      cause: error,
    });
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
    if (code === 'EACCES' || code === 'EROFS')
      throw new InputError(path, `cannot write here (${code})`, { cause: error });
    if (code === 'ENOSPC' || code === 'EDQUOT')
      throw new InputError(path, `no space left to write it (${code}); nothing half-written was kept`, {
        cause: error,
      });
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
