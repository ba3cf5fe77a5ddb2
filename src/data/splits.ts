import { UsageError } from '../runtime/errors.js';
import type { Random } from '../runtime/random.js';

export interface Split {
  train: string[];
  validation: string[];
  test: string[];
}

export type SplitRequest =
  | { kind: 'fractions'; train: number; validation: number; test: number }
  | { kind: 'lists'; train?: string[]; validation: string[]; test: string[] };

/**
 * Subject-wise split, so that no session of a subject leaks into another split. Fractions are
 * rounded to whole subjects (at least one for validation when there are three or more subjects);
 * explicit lists name subjects, the rest going to training unless `train` is listed too.
 */
export function splitSubjects(subjects: string[], request: SplitRequest, random: Random): Split {
  const sorted = [...subjects].sort();
  if (request.kind === 'lists') {
    const known = new Set(sorted);
    const strip = (list: string[] | undefined) => list?.map((s) => s.replace(/^sub-/, ''));
    const validation = strip(request.validation)!;
    const test = strip(request.test)!;
    for (const id of [...validation, ...test, ...(strip(request.train) ?? [])]) {
      if (!known.has(id))
        throw new UsageError(`subject ${id} of the split is not in the data (subjects: ${sorted.join(', ')})`);
    }
    const twice = validation.filter((id) => test.includes(id));
    if (twice.length > 0)
      throw new UsageError(`subjects ${twice.join(', ')} are in both the validation and the test split`);
    const train = strip(request.train) ?? sorted.filter((id) => !validation.includes(id) && !test.includes(id));
    return { train, validation, test };
  }
  const order = [...sorted];
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.integer(0, i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const total = request.train + request.validation + request.test;
  const nValidation =
    request.validation > 0
      ? Math.max(order.length >= 3 ? 1 : 0, Math.round((order.length * request.validation) / total))
      : 0;
  const nTest = Math.round((order.length * request.test) / total);
  const pick = (from: number, count: number) => order.slice(from, from + count).sort();
  return {
    validation: pick(0, nValidation),
    test: pick(nValidation, nTest),
    train: pick(nValidation + nTest, order.length),
  };
}
