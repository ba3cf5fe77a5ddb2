import { DEMO_SIZES, demoConfigs, demoPlan } from '../../src/demo/plan.js';
import { demoTable, formatMarkdownTable, type EvaluateSummary } from '../../src/demo/table.js';

const summary = (dice: number, stcs: number): EvaluateSummary => ({
  foreground_median: { Dice: dice, IoU: dice / (2 - dice), HD95: 4.25 },
  longitudinal: { foreground_median: { STCS: stcs, ASPC: 3.5, STCS_ref: 0.9, ASPC_ref: 1.25 } },
});

describe('longiseg demo', () => {
  test('the table has the paper\'s Table 1 layout: a GT row, then one row per method, medians to 3 decimals', () => {
    const rows = demoTable([{ title: 'RandInitUnet.3D w/ Lcs', summary: summary(0.5, 0.7) }, { title: 'Ours w/ Lcs', summary: summary(0.6, 0.8) }]);
    expect(rows).toEqual([
      ['Method', 'Dice ↑', 'IoU ↑', 'HD95 mm ↓', 'ASPC % ↓', 'STCS ↑'],
      ['GT', '–', '–', '–', '1.250', '0.900'],
      ['RandInitUnet.3D w/ Lcs', '0.500', '0.333', '4.250', '3.500', '0.700'],
      ['Ours w/ Lcs', '0.600', '0.429', '4.250', '3.500', '0.800'],
    ]);
    const table = formatMarkdownTable(rows).split('\n');
    expect(table[1]).toMatch(/^\| -+ \| -+ \|/);
    expect(new Set(table.map((line) => line.length)).size).toBe(1);
  });

  test('the plan runs every command of the chain, finetuning both ways from the same labelled training subject', () => {
    const stages = demoPlan('demo', DEMO_SIZES.quick, () => ({ train: ['sub-02', 'sub-03'], test: ['sub-04', 'sub-05'] }));
    expect(stages.map((s) => s.name)).toEqual(['synth', 'preprocess', 'pretrain', 'finetune', 'predict', 'evaluate']);
    const [random, pretrained] = stages[3].commands();
    expect(random).toEqual(['finetune', '--config', 'demo/finetune.yaml', '--data', 'demo/registered', '--out', 'demo/finetune-random', '--labeled', 'sub-02', '--threads', '1']);
    expect(pretrained.slice(-2)).toEqual(['--pretrained', 'demo/pretrain/best.safetensors']);
    const predict = stages[4].commands()[0];
    expect(predict.slice(predict.indexOf('--input'), predict.indexOf('--out'))).toEqual(['--input', 'demo/registered/sub-04', 'demo/registered/sub-05']);
    expect(demoConfigs(DEMO_SIZES.quick).pretrain).toBe('preset: small\nsteps: 25\nconstant_steps: 13\nvalidate_every: 6\n');
  });
});
