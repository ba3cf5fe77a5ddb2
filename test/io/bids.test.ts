import { bidsEntitiesOf, parseBidsName } from '../../src/io/bids.js';

describe('BIDS entities (key-label pairs joined by _, labels of letters and digits)', () => {
  test.each([
    ['sub-01_ses-02_T1w.nii.gz', { subject: '01', session: '02', suffix: 'T1w' }],
    ['sub-pat01_ses-baseline_acq-mprage_run-2_T1w.nii', { subject: 'pat01', session: 'baseline', suffix: 'T1w' }],
    [
      '/data/sub-01/anat/sub-01_space-subject_desc-longiseg_dseg.nii.gz',
      { subject: '01', session: undefined, suffix: 'dseg' },
    ],
    ['case0001.nii.gz', { subject: undefined, session: undefined, suffix: '' }],
  ])('%s', (name, expected) => {
    expect(parseBidsName(name)).toEqual(expected);
  });

  test.each([
    ['sub-pat-01_ses-01_T1w.nii.gz', '"sub-pat-01" is not a BIDS entity'],
    ['sub-01_ses-0_1_T1w.nii.gz', '"1" is not a BIDS entity'],
    ['sub-01_ses-01-a_T1w.nii.gz', '"ses-01-a" is not a BIDS entity'],
    ['sub-01_ses-01__T1w.nii.gz', '"" is not a BIDS entity'],
  ])('%s breaks the rules: no subject is read from it, and a BIDS tree refuses it', (name, problem) => {
    const entities = parseBidsName(name);
    expect(entities.problem).toContain(problem);
    expect(entities.subject).toBeUndefined();
    expect(() => bidsEntitiesOf(`/study/sub-x/anat/${name}`)).toThrow(
      `/study/sub-x/anat/${name}: is not a valid BIDS name: ${problem}`,
    );
  });

  test('names that are not BIDS at all (nnU-Net cases) are not refused', () => {
    expect(bidsEntitiesOf('/images/BRATS_001_0000.nii.gz').subject).toBeUndefined();
  });
});
