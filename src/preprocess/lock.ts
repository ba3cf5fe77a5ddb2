import { existsSync, readFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { hostname } from 'node:os';

export interface LockInfo {
  host: string;
  pid: number;
  time: string;
  job?: string;
}

/** Whether a process of this host is alive (signal 0 only tests). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A per-subject lock file (host, pid, time, SLURM job), created exclusively. A lock is stale when its
 * process on this host is gone, or when it is older than `staleHours` (another host's job may have
 * been killed); a stale lock is taken over. Returns undefined when another live job holds it.
 */
export async function acquireLock(path: string, staleHours: number): Promise<(() => Promise<void>) | undefined> {
  const info: LockInfo = { host: hostname(), pid: process.pid, time: new Date().toISOString(), job: process.env.SLURM_JOB_ID };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${JSON.stringify(info)}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!isStale(path, staleHours)) return undefined;
      await rm(path, { force: true });
    }
  }
  return undefined;
}

function isStale(path: string, staleHours: number): boolean {
  if (!existsSync(path)) return true;
  let held: LockInfo;
  try {
    held = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
  } catch {
    return true;
  }
  if (held.host === hostname() && !alive(held.pid)) return true;
  return Date.now() - Date.parse(held.time) > staleHours * 3600 * 1000;
}
