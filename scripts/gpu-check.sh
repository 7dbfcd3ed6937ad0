#!/usr/bin/env bash
# One short check of Cohort on a machine with an NVIDIA GPU (no network needed):
#   1. the engine's numerical tests on the GPU execution provider (CUDA when onnxruntime-node's
#      CUDA binaries are installed, else the bundled WebGPU), with CPU fallback for ops it lacks;
#   2. the engine bench (GEMM, train step, KV decode) on that provider and on the CPU, same run;
#   3. a few RL steps of the tiny config on a physical-GPU layout with that provider;
# then one JSON summary on stdout (progress on stderr). Usage: bash scripts/gpu-check.sh [--dry-run]
# Exit: 0 all passed, 1 a stage failed, 2 no NVIDIA GPU here (nothing was run).
# NVIDIA_SMI overrides the nvidia-smi binary (tests use it).
set -u
cd "$(dirname "$0")/.."
SMI="${NVIDIA_SMI:-nvidia-smi}"
reason=""
if ! command -v "$SMI" >/dev/null 2>&1; then
  reason="$SMI not found on PATH"
elif ! csv=$("$SMI" --query-gpu=index,name,memory.total --format=csv,noheader,nounits 2>&1); then
  reason="$SMI failed: $(printf '%s' "$csv" | head -n 1)"
elif [ -z "$(printf '%s' "$csv" | tr -d '[:space:]')" ]; then
  reason="$SMI lists no GPU"
fi
if [ -n "$reason" ]; then
  echo "gpu-check: no NVIDIA GPU found ($reason); nothing was run: run this script on a machine with an NVIDIA GPU" >&2
  node -e 'process.stdout.write(JSON.stringify({ ok: false, gpu: null, reason: process.argv[1] }) + "\n")' "$reason"
  exit 2
fi
GPU_CHECK_SMI_CSV="$csv" exec node --import tsx scripts/gpu-check.mjs "$@"
