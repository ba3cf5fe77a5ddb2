import { describe, expect, test } from '@jest/globals';
import { constantSteps, finetuneSchema, PRESETS, pretrainSchema } from '../../src/train/config.js';

describe('constant_steps', () => {
  test("defaults to the reference code's share: 21/221 of pretraining's steps, 11/211 of finetuning's", () => {
    expect(constantSteps('pretrain', { steps: 30000 })).toBe(2851);
    expect(constantSteps('finetune', { steps: 35000 })).toBe(1825);
    expect(constantSteps('finetune', { steps: 35000, constant_steps: 0 })).toBe(0);
  });

  test('the paper presets leave it to that default; small sets its own', () => {
    const parse = (preset: Record<string, unknown>) => finetuneSchema.parse({ ...preset, data: 'd', out: 'o' });
    expect(constantSteps('finetune', parse(PRESETS.finetune.paper))).toBe(1825);
    expect(constantSteps('finetune', parse(PRESETS.finetune.small))).toBe(560);
  });
});

describe('small presets', () => {
  test('draw every crop of pretraining and Lcs pairs inside the head', () => {
    const where = { data: 'd', out: 'o' };
    expect(pretrainSchema.parse({ ...PRESETS.pretrain.small, ...where }).crops_inside_head).toBe(true);
    expect(finetuneSchema.parse({ ...PRESETS.finetune.small, ...where }).crops_inside_head).toBe(true);
    expect(pretrainSchema.parse({ ...PRESETS.pretrain.paper, ...where }).crops_inside_head).toBe(false);
  });
});
