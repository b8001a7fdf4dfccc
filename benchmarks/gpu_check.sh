#!/usr/bin/env bash
# The whole GPU check of issue 15 in one go (under 8 minutes on one H200), output in ONE file:
#   1. the tests marked for CUDA (pytest -m cuda),
#   2. benchmarks/sampler_throughput.py on the GPU (bare forward, counts float32/bf16, the
#      compiled step and the compiled forward alone against the compiled limit, Cohen's loop, the
#      sound grid mode, bf16 agreement eager and of the compiled step),
#   3. Cohen's protocol on the 500 embedded Fashion-MNIST test images (n0 = 100, n = 100,000,
#      bf16), eager and with the compiled step, timed end to end (compiles included), plus the
#      sound grid mode compiled.
# Usage (repository root, the package installed):  bash benchmarks/gpu_check.sh [OUT_FILE]
# Each step has its own time limit, so one hanging step cannot eat the GPU budget.
set -u
out="${1:-gpu_check.txt}"
work="$(mktemp -d)"
py="${PYTHON:-python}"
step() {  # step <seconds> <title> <command...>: run, append output and timing to $out
    local limit="$1" title="$2"; shift 2
    echo "=== ${title} ($(date -u +%FT%TZ), limit ${limit}s)" >>"$out"
    local t0=$SECONDS
    timeout "$limit" "$@" >>"$out" 2>&1
    echo "=== rc=$? wall=$((SECONDS - t0))s: ${title}" >>"$out"
    echo >>"$out"
}
: >"$out"
step 20 "environment" "$py" -c "import torch, smoothcert; print(torch.__version__, torch.cuda.get_device_name(0), smoothcert.__file__)"
step 90 "tests marked cuda" "$py" -m pytest -q -m cuda -p no:randomly tests/
step 240 "throughput" "$py" benchmarks/sampler_throughput.py --samples 200000 --batch 10000 --reps 3 --threads 16
run() {  # run <name> <extra certify args...>: Cohen's protocol on the 500 embedded images
    local name="$1"; shift
    step 100 "Cohen protocol 500 images: ${name}" "$py" -m smoothcert certify --model fmnist-gaussian-0.25 \
        --split embedded --n0 100 --n 100000 --batch 10000 --precision bfloat16 --no-progress \
        --out "$work/${name}.tsv" "$@"
    "$py" - "$work/${name}.tsv" >>"$out" 2>&1 <<'EOF'
import sys
from smoothcert.gpu_sampler.dataset import read_rows
rows = read_rows(sys.argv[1])
acc = sum(int(r["correct"]) for r in rows) / max(1, len(rows))
print(f"{len(rows)} rows, clean certified accuracy {acc:.3f}, "
      f"certified accuracy at r=0.25: {sum(int(r['correct']) and float(r['radius']) >= 0.25 for r in rows) / max(1, len(rows)):.3f}")
EOF
}
run eager --compile off
run compiled --compile on
run grid-sound --compile on --cert gaussian-grid-l2 --sigma 0.25
rm -rf "$work"
echo "wrote $out"
