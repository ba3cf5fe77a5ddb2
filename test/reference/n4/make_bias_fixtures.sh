#!/usr/bin/env bash
# ITK's N4 (the filter ANTs' N4BiasFieldCorrection runs) on fixtures/bias/infant_T1w.nii.gz, with the
# parameters of longiseg's N4 call and longiseg's head mask, for test/preprocess/bias-correction.test.ts.
# Run by hand from the repository root; needs Debian's libinsighttoolkit5-dev, cmake and g++.
# The image is session 1 of `longiseg synth --subjects 1 --sessions 2 --cohort infant --shape 48,48,48
# --voxel-mm 4 --seed 3`: a 5-month-old, nearly isointense, the hardest contrast for histogram sharpening.
set -euo pipefail
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cmake -S test/reference/n4 -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" >/dev/null
image=fixtures/bias/infant_T1w.nii.gz
/usr/bin/python3 test/reference/n4/head_mask.py "$image" "$build/mask.nii.gz"
# 4 mm voxels: no shrinking (longiseg shrinks to about 4 mm)
"$build/n4_reference" "$image" "$build/mask.nii.gz" 1 "$build/corrected.nii.gz" "$build/log_field.nii.gz"
/usr/bin/python3 test/reference/n4/field_fixture.py "$build/mask.nii.gz" "$build/log_field.nii.gz" fixtures/bias/itk_n4.json
