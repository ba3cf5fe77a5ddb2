import { existsSync, readFileSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { slurmEnvironment } from './slurm-environment.js';

export interface LockInfo {
  host: string;
  pid: number;
  time: string;
  job?: string;
}

/** Whether a process of this host is alive (signal 0 only tests; a zombie, exited but not yet reaped, is not). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/PID/stat: "pid (name) state …"
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/**
 * A per-subject lock file (host, pid, time, SLURM job), created exclusively. A lock is stale when its
 * process on this host is gone, or when it is older than `staleHours` (another host's job may have
 * been killed); a stale lock is taken over. Returns undefined when another live job holds it.
 */
export async function acquireLock(path: string, staleHours: number): Promise<(() => Promise<void>) | undefined> {
  const info: LockInfo = {
    host: hostname(),
    pid: process.pid,
    time: new Date().toISOString(),
    job: slurmEnvironment().jobId,
  };
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

/** Seconds between two looks at a lock another job holds (--wait). */
export const LOCK_POLL_SECONDS = 5;

/** Who holds a lock: "host h, process p (SLURM job j) since t". */
export function lockHolder(path: string): string {
  try {
    const held = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return `host ${held.host}, process ${held.pid}${held.job ? ` (SLURM job ${held.job})` : ''} since ${held.time}`;
  } catch {
    return 'another job';
  }
}

function isStale(path: string, staleHours: number): boolean {
  if (!existsSync(path)) return true;
  let held: LockInfo;
  try {
    held = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
  } catch {
    return true;
  }
  if (held.host === hostname() && !processAlive(held.pid)) return true;
  return Date.now() - Date.parse(held.time) > staleHours * 3600 * 1000;
}
