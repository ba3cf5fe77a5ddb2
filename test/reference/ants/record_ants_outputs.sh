#!/usr/bin/env bash
# What real ANTs writes for longiseg's calls, recorded for test/registration/ants-replay.test.ts.
# Run by hand from the repository root after `npx tsc`, with ANTs 2.5 (antsRegistration,
# antsApplyTransforms, N4BiasFieldCorrection) on PATH; the build stays out of the repository.
# The pair: session 1 of `longiseg synth --subjects 1 --sessions 4 --cohort aging --shape 48,64,48
# --voxel-mm 3 --seed 1`, and the same voxels under a header moved by a known rigid map W (4° about z,
# then (6, −4.5, 3) mm), so the transform ANTs must find is W exactly.
set -euo pipefail
out=fixtures/registration/ants-2.5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./bin/longiseg synth --out "$work/study" --subjects 1 --sessions 4 --cohort aging --shape 48,64,48 --voxel-mm 3 --seed 1 --quiet
/usr/bin/python3 test/reference/ants/known_pair.py "$work/study/raw/sub-01/ses-01/anat/sub-01_ses-01_T1w.nii.gz" "$work"
node test/reference/ants/run_ants_cli.mjs "$work"
mkdir -p "$out"
cp "$work/work-affine/ants_0GenericAffine.mat" "$out/affine_0GenericAffine.mat"
cp "$work/work-syn/ants_0GenericAffine.mat" "$out/syn_0GenericAffine.mat"
cp "$work/work-syn/initial.txt" "$out/syn_initial.txt"
cp "$work/W.txt" "$work/files.json" "$out/"
# an 8³ block of the real field (and of the fixed image), header as antsApplyTransforms wrote it
/usr/bin/python3 test/reference/ants/crop_field.py "$work" "$out"
