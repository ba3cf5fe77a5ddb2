import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { flagArgs, onPath, runCli, tinyFinetune, tinyPretrain, tinyStudy } from '../helpers.js';
import { browserAvailable, launchBrowser, openReport } from './browser.js';

const withBrowser = browserAvailable() ? describe : describe.skip;

/** The structures of synth's label table that a page must name. */
const STRUCTURES = ['Left-Hippocampus', 'Right-Amygdala', 'Cerebral-White-Matter'];

withBrowser('every stage writes a report that a real browser opens without error', () => {
  const { dir, data, config } = tinyStudy();
  const study = join(dir.path, 'study');
  const out = (name: string) => join(dir.path, name);
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  const expectClean = (opened: Awaited<ReturnType<typeof openReport>>) => {
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toEqual([]);
    expect(opened.brokenImages).toBe(0);
  };

  test('pretrain: the curves of each loss term, the validation and the learning rate', async () => {
    const run = runCli(
      flagArgs('pretrain', { config: config('pre.yaml', tinyPretrain), data, out: out('pre'), quiet: true }),
    );
    expect(run.status).toBe(0);
    const opened = await openReport(browser, join(out('pre'), 'report.html'), 'pretrain.png');
    expectClean(opened);
    expect(opened.figures).toBe(3);
    expect(opened.text).toMatch(/best checkpoint at step 6/);
  });

  test('finetune: curves, and the validation Dice of each class by name', async () => {
    const run = runCli(
      flagArgs('finetune', {
        config: config('ft.yaml', tinyFinetune),
        data,
        out: out('ft'),
        labeled: 'sub-01',
        quiet: true,
      }),
    );
    expect(run.status).toBe(0);
    const opened = await openReport(browser, join(out('ft'), 'report.html'), 'finetune.png');
    expectClean(opened);
    expect(opened.figures).toBe(3);
    for (const name of STRUCTURES) expect(opened.text).toContain(name);
  });

  test('predict: one montage per session, the sessions of a subject side by side, a legend', async () => {
    const run = runCli(
      flagArgs('predict', {
        model: join(out('ft'), 'best.safetensors'),
        input: [join(data, 'sub-03'), join(data, 'sub-04')],
        out: out('pred'),
        quiet: true,
      }),
    );
    expect(run.status).toBe(0);
    const opened = await openReport(browser, join(out('pred'), 'report.html'), 'predict.png');
    expectClean(opened);
    expect(opened.images).toBe(4);
    expect(opened.text).toMatch(/sub-03_ses-01[\s\S]*sub-03_ses-02[\s\S]*sub-04_ses-01/);
    for (const name of STRUCTURES) expect(opened.text).toContain(name);
    expect(opened.text).toContain("neurological convention (the patient's left on the left");
  });

  test('evaluate: box plots, session pairs, volume trajectories, the worst cases linked to their montages', async () => {
    const run = runCli(
      flagArgs('evaluate', {
        pred: out('pred'),
        ref: join(data, 'derivatives', 'labels'),
        longitudinal: true,
        'allow-missing': true,
        quiet: true,
      }),
    );
    expect(run.status).toBe(0);
    const path = join(out('pred'), 'evaluation.html');
    const opened = await openReport(browser, path, 'evaluate.png');
    expectClean(opened);
    expect(opened.figures).toBe(5);
    for (const name of STRUCTURES) expect(opened.text).toContain(name);
    expect(readFileSync(path, 'utf8')).toContain('href="report.html#sub-03_ses-01"');
    expect(opened.text).toContain('age (years)');
  });

  const withElastix = onPath('elastix') ? test : test.skip;
  withElastix(
    'preprocess: per subject, each session before and after registration with the template edges',
    async () => {
      const run = runCli(
        flagArgs('preprocess', {
          bids: join(study, 'raw'),
          out: out('registered'),
          subjects: 'sub-02',
          convention: 'radiological',
          quiet: true,
        }),
      );
      expect(run.status).toBe(0);
      const subject = await openReport(
        browser,
        join(out('registered'), 'sub-02', 'report.html'),
        'preprocess-subject.png',
      );
      expectClean(subject);
      expect(subject.images).toBe(4);
      expect(subject.text).toContain("radiological convention (the patient's left on the right");
      expect(subject.text).toMatch(/Jacobian min/);
      const index = await openReport(browser, join(out('registered'), 'report.html'), 'preprocess.png');
      expectClean(index);
      expect(index.text).toContain('sub-02');
    },
  );

  test('demo: Table 1 as a table and a figure, one subject segmented by the reference and each arm, links', async () => {
    const { subjectSegmentations, writeDemoReport } = await import('../../src/report/demo-report.js');
    const demo = out('demo');
    mkdirSync(demo);
    const segmentations = await subjectSegmentations(
      data,
      '03',
      [
        { title: 'reference', folder: join(data, 'derivatives', 'labels') },
        { title: 'the finetuned model', folder: out('pred') },
      ],
      'neurological',
    );
    const written = await writeDemoReport(
      demo,
      {
        table: [
          ['Method', 'Dice ↑'],
          ['RandInitUnet.3D w/ Lcs', '0.800 ± 0.010'],
          ['Ours w/ Lcs', '0.810 ± 0.020'],
        ],
        verdict: 'Dice: inside the spread over seeds',
        arms: [
          { title: 'RandInitUnet.3D w/ Lcs', dice: [0.79, 0.81], stcs: [0.9, 0.91] },
          { title: 'Ours w/ Lcs', dice: [0.8, 0.82], stcs: [0.92, 0.9] },
        ],
        links: [
          { title: 'predict', href: '../pred/report.html' },
          { title: 'missing stage', href: 'nowhere/report.html' },
        ],
        segmentations,
        convention: 'radiological',
        command: 'test',
      },
      { warn: (message) => expect(message).toBeUndefined() },
    );
    const opened = await openReport(browser, written!, 'demo.png');
    expectClean(opened);
    expect(opened.images).toBe(4);
    expect(opened.figures).toBe(5);
    expect(opened.text).toMatch(/reference[\s\S]*the finetuned model/);
    expect(opened.text).toContain('predict');
    expect(opened.text).not.toContain('missing stage');
    expect(opened.text).toContain('radiological convention');
  });

  test('--no-report writes none; a file of that name that longiseg did not write is left alone', async () => {
    writeFileSync(join(out('pred'), 'evaluation.html'), 'mine');
    const run = runCli(
      flagArgs('evaluate', { pred: out('pred'), ref: join(data, 'derivatives', 'labels'), 'allow-missing': true }),
    );
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/evaluation\.html was not written: a file of that name is there/);
    expect(readFileSync(join(out('pred'), 'evaluation.html'), 'utf8')).toBe('mine');
    const none = runCli(
      flagArgs('predict', {
        model: join(out('ft'), 'best.safetensors'),
        input: join(data, 'sub-03'),
        out: out('pred-none'),
        report: false,
        quiet: true,
      }),
    );
    expect(none.status).toBe(0);
    expect(() => readFileSync(join(out('pred-none'), 'report.html'))).toThrow();
  });
});
