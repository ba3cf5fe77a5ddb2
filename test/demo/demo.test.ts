import { DEMO_SIZES, demoConfigs, demoPlan } from '../../src/demo/plan.js';
import { demoTable, formatMarkdownTable, seedComparison, type EvaluateSummary } from '../../src/demo/table.js';

const summary = (dice: number, stcs: number, hd95 = 4.25): EvaluateSummary => ({
  foreground_median: { Dice: dice, IoU: dice / (2 - dice), HD95: hd95 },
  longitudinal: { foreground_median: { STCS: stcs, ASPC: 3.5, STCS_ref: 0.9, ASPC_ref: 1.25 } },
});

describe('longiseg demo', () => {
  test("the table has the paper's Table 1 layout: a GT row, then one row per method, medians to 3 decimals", () => {
    const rows = demoTable([
      { title: 'RandInitUnet.3D w/ Lcs', summaries: [summary(0.5, 0.7)] },
      { title: 'Ours w/ Lcs', summaries: [summary(0.6, 0.8)] },
    ]);
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

  test('with several seeds, cells are mean ± SD over seeds, and each measure is tested against the spread over seeds', () => {
    const random = {
      title: 'Random',
      summaries: [
        summary(0.8, 0.9, 5),
        summary(0.82, 0.91, 6),
        summary(0.84, 0.92, 4),
        summary(0.81, 0.9, 5),
        summary(0.83, 0.93, 5),
      ],
    };
    // Dice higher by 0.05 ± 0.007; STCS the same up to noise; HD95 lower by 1 mm in every seed
    const ours = {
      title: 'Ours',
      summaries: [
        summary(0.85, 0.91, 4),
        summary(0.86, 0.9, 5),
        summary(0.9, 0.92, 3),
        summary(0.86, 0.91, 4),
        summary(0.88, 0.92, 4),
      ],
    };
    expect(demoTable([random, ours])[2]).toEqual([
      'Random',
      '0.820 ± 0.016',
      expect.any(String),
      '5.000 ± 0.707',
      '3.500 ± 0.000',
      '0.912 ± 0.013',
    ]);
    const lines = seedComparison(ours, random);
    // scipy.stats: Dice t-test p = 9.3e-5, Wilcoxon 0.0625 (the least 5 seeds can give); STCS 1.0 and 1.0; HD95 t-test p 0
    expect(lines[0]).toBe(
      'Dice: +0.050 ± 0.007 (Ours − Random, 5 seeds; paired t-test p = 0.000, Wilcoxon p = 0.063): Ours better',
    );
    expect(lines[1]).toBe(
      'HD95: −1.000 ± 0.000 (Ours − Random, 5 seeds; paired t-test p = 0.000, Wilcoxon p = 0.063): Ours better',
    );
    expect(lines[3]).toBe(
      'STCS: +0.000 ± 0.010 (Ours − Random, 5 seeds; paired t-test p = 1.000, Wilcoxon p = 1.000): inside the spread over seeds: no difference shown',
    );
    expect(lines.map((line) => line.split(':')[0])).toEqual(['Dice', 'HD95', 'ASPC', 'STCS']);
  });

  test('the plan runs every command of the chain, finetuning both ways from sub-01 with each seed, tested on the fixed test subjects', () => {
    const stages = demoPlan('demo', DEMO_SIZES.full, 3);
    expect(stages.map((s) => s.name)).toEqual(['synth', 'preprocess', 'pretrain', 'finetune', 'predict', 'evaluate']);
    const finetunes = stages[3].commands;
    expect(finetunes.map((c) => [c.args[6], c.seed])).toEqual(
      [3, 4, 5, 6, 7].flatMap((seed) => [
        [`demo/finetune-random-seed${seed}`, seed],
        [`demo/finetune-pretrained-seed${seed}`, seed],
      ]),
    );
    expect(finetunes[0].args).toEqual([
      'finetune',
      '--config',
      'demo/finetune.yaml',
      '--data',
      'demo/registered',
      '--out',
      'demo/finetune-random-seed3',
      '--labeled',
      'sub-01',
      '--threads',
      '1',
    ]);
    expect(finetunes[1].args.slice(-2)).toEqual(['--pretrained', 'demo/pretrain/best.safetensors']);
    const predict = stages[4].commands[1].args;
    expect(predict.slice(predict.indexOf('--model'), predict.indexOf('--model') + 2)).toEqual([
      '--model',
      'demo/finetune-pretrained-seed3/best.safetensors',
    ]);
    expect(predict.slice(predict.indexOf('--input'), predict.indexOf('--out'))).toEqual([
      '--input',
      'demo/registered/sub-07',
      'demo/registered/sub-08',
    ]);
    expect(stages[2].commands).toEqual([{ args: expect.arrayContaining(['pretrain']), seed: 3 }]);
    expect(demoConfigs(DEMO_SIZES.quick).pretrain).toBe(
      "preset: small\nsteps: 25\nconstant_steps: 13\nvalidate_every: 6\nsplit: { validation_subjects: ['04'], test_subjects: ['05'] }\n",
    );
  });
});
