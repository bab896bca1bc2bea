#!/usr/bin/env bash
# Rebuild genzoo's reference checkpoints the way the published ones were made: exactly the default
# `genzoo run MODEL` (the model's default recipe and default budget) on the embedded mnist5k data, on
# CPU with one thread per run; then `genzoo eval` on the held-out split and `genzoo push` as a new
# version (published versions are never overwritten). wgan-gp-mnist5k@v7 (v6's weights under a new card) and alpha-gan-mnist5k@v7 are
# these commands with OMP_NUM_THREADS=2 and each run alone on the 2 cores, which also timed the defaults
# against the 10-minute budget (registry/README.md). Runs of several models may go in parallel:
#
#   registry/build_reference.sh                 # every model, then the FID classifier
#   registry/build_reference.sh gvae vae        # some models only
#   RUNS=/tmp/ref REGISTRY=/tmp/reg registry/build_reference.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
RUNS=${RUNS:-runs/reference}
REGISTRY=${REGISTRY:-registry}
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(gvae vae wgan-gp alpha-gan vae-gan avb lenet)

for model in "${MODELS[@]}"; do
  if [ "$model" = lenet ]; then
    # the FID/KID feature network the metrics plugin ships (trained by `genzoo train-classifier`;
    # its card carries the exact command, read from the file's provenance metadata)
    genzoo push plugins/genzoo_metrics/weights/lenet-mnist5k.safetensors --registry "$REGISTRY" --name lenet-mnist5k
    continue
  fi
  run="$RUNS/$model-mnist5k"
  [ ! -e "$run" ] || { echo "$run exists; remove it or set RUNS" >&2; exit 1; }
  time genzoo run "$model" --dataset mnist5k --seed 0 --device cpu --out "$run" --no-progress
  genzoo eval "$run" -n 500 --seed 0 --json > "$run/eval.json" || echo "warning: a metric failed for $model; see $run/eval.json" >&2
  genzoo push "$run" --registry "$REGISTRY" --name "$model-mnist5k"
done
genzoo registry list --registry "$REGISTRY"
