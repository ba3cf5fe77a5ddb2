/**
 * The reference's const_linear policy in steps: the full rate for `constantSteps` steps, then a
 * linear decay that ends at 1/(decay + 1) of it, never 0 (the reference's const_linear).
 */
export function learningRateFactor(step: number, constantSteps: number, totalSteps: number): number {
  const decaySteps = Math.max(0, totalSteps - constantSteps);
  return 1 - Math.max(0, step - constantSteps) / (decaySteps + 1);
}

/**
 * Wall-clock limits as SLURM and people write them: 90 (minutes), 2h, 90m, 1h30m, 45s,
 * 02:00:00, 1-12:00:00 (days-hours:minutes:seconds). Returns seconds, or undefined if unreadable.
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (/^\d+$/.test(value)) return Number(value) * 60;
  const units = /^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  if (units && value !== '')
    return (
      Number(units[1] ?? 0) * 86400 + Number(units[2] ?? 0) * 3600 + Number(units[3] ?? 0) * 60 + Number(units[4] ?? 0)
    );
  const clock = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(value);
  if (clock)
    return Number(clock[1] ?? 0) * 86400 + Number(clock[2] ?? 0) * 3600 + Number(clock[3]) * 60 + Number(clock[4]);
  return undefined;
}
