#!/usr/bin/env bash
# The WebGPU measurements on a GPU machine without Node or network, from the repository root, with
# bench/out/gpu/ made by bench/gpu/pack.sh carried along. Every figure comes from this one run:
#   1. pretrain --config paper steps/s on webgpu, and on wasm with one thread;
#   2. the same model step in PyTorch on CUDA (bench/pytorch_step.py, torch installed there);
#   3. predict of a 1 mm whole brain (181×217×181) on webgpu.
# usage: bash bench/gpu/run.sh   → results in $OUT (or bench/out/gpu-results)
# BENCH_QUICK=1 checks the script on any machine: the small preset for 3 steps, PyTorch on the CPU
# (BENCH_PYTHON: a python3 with torch),
# no predict.
set -euo pipefail
quick=${BENCH_QUICK:-0}
config=$([ "$quick" = 1 ] && echo small || echo paper)
torch_device=$([ "$quick" = 1 ] && echo cpu || echo cuda)
root=$(pwd)
out=${OUT:-$root/bench/out/gpu-results}
mkdir -p "$out"
work=$(mktemp -d)
for part in node app vulkan; do tar -C "$work" -xJf "$root/bench/out/gpu/$part.tar.xz"; done
node=$(find "$work" -maxdepth 1 -type f -name 'node*' | head -1)
export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work}
# NVIDIA's Vulkan driver: its ICD file, or one written for the driver's library when only that is there
if ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  library=$(ldconfig -p | grep -o '/[^ ]*libGLX_nvidia\.so\.0' | head -1 || true)
  if [ -n "$library" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$library" > "$work/nvidia_icd.json"
    export VK_ICD_FILENAMES="$work/nvidia_icd.json"
  fi
fi
longiseg() { "$node" "$work/app/bin/longiseg" "$@"; }
log() { echo "$*" | tee -a "$out/summary.txt"; }
: > "$out/summary.txt"

longiseg doctor --backend webgpu | tee "$out/doctor.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$out/doctor.txt" 2>/dev/null || true

# seconds per step: the median of the steps after the first two (shader compilation, warm-up)
seconds_per_step() { awk -F'\t' '$2 == "train" && $1 > 2 { print $4 }' "$1/train_log.tsv" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

longiseg synth --out "$work/study" --subjects 3 --sessions 2 --shape 64,64,64 --quiet
for backend in webgpu wasm; do
  steps=$([ "$quick" = 1 ] && echo 3 || { [ "$backend" = webgpu ] && echo 20 || echo 5; })
  longiseg pretrain --config "$config" --data "$work/study/registered" --out "$work/pretrain-$backend" --backend "$backend" --threads 1 \
    --max-steps "$steps" --log-format json > "$out/pretrain-$backend.log" 2>&1
  cp "$work/pretrain-$backend/train_log.tsv" "$out/pretrain-$backend.tsv"
  log "pretrain --config $config on $backend: $(seconds_per_step "$work/pretrain-$backend") s per step"
done
torch=$("${BENCH_PYTHON:-python3}" "$root/bench/pytorch_step.py" 32 10 1 "$torch_device")
log "PyTorch on $torch_device, the paper pretraining model step: $torch"
[ "$quick" = 1 ] && { rm -rf "$work"; exit 0; }

"$node" "$work/app/dist/bench/gpu/whole-brain.js" "$work/brain" > /dev/null
start=$(date +%s.%N)
longiseg predict --model "$work/brain/model.safetensors" --input "$work/brain/brain.nii.gz" --out "$work/predicted" --backend webgpu --quiet
log "predict, 1 mm whole brain on webgpu: $(awk -v start="$start" -v end="$(date +%s.%N)" 'BEGIN { printf "%.1f", end - start }') s"
rm -rf "$work"
