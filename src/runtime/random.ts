/**
 * Seeded random numbers (sfc32, seeded through splitmix32). Every random choice of a run flows from
 * one seed; `fork(n)` derives an independent stream per item (subject, session) so that item n's
 * values do not depend on how many items come before it.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  constructor(readonly seed: number) {
    let state = seed >>> 0;
    const next = () => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Integer in [low, high], both included. */
  integer(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  /** Standard normal (Box–Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const value = this.spareNormal;
      this.spareNormal = undefined;
      return value;
    }
    const u = 1 - this.next();
    const v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  /** The generator's position, for checkpoints; restore() continues the sequence exactly. */
  state(): number[] {
    return [this.a, this.b, this.c, this.d, this.spareNormal ?? Number.NaN];
  }

  restore(state: number[]): void {
    [this.a, this.b, this.c, this.d] = state;
    this.spareNormal = Number.isNaN(state[4]) ? undefined : state[4];
  }

  fork(stream: number): Random {
    return new Random((Math.imul(this.seed ^ 0x5bd1e995, 31) + Math.imul(stream + 1, 0x27d4eb2d)) >>> 0);
  }
}

const STEP_STREAMS = { data: 3, model: 4 } as const;

/**
 * The generator of one training step for one purpose (its batches, or the model's own draws such as
 * patch positions): a function of the seed, the purpose and the step alone, so that a step draws the
 * same values whether its batches were prepared ahead, in line, or after --resume.
 */
export function stepRandom(seed: number, purpose: keyof typeof STEP_STREAMS, step: number): Random {
  return new Random(seed).fork(STEP_STREAMS[purpose]).fork(step);
}
