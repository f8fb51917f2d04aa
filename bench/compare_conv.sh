#!/usr/bin/env bash
# conv2d / conv_transpose2d at the conv VAE's shapes: tapegrad (bench/bench_conv.cpp) and PyTorch
# (bench/conv_torch.py), one after the other in one run on this machine, as a table: case, milliseconds
# per call for each, and the ratio tapegrad / PyTorch (below 1: tapegrad is faster). Medians of 5.
# Needs a built bench_conv and python3-torch.
#
#   bench/compare_conv.sh [--threads N] [path/to/bench_conv]   (defaults: 2, build/bench/bench_conv)
set -euo pipefail
cd "$(dirname "$0")/.."
bench=build/bench/bench_conv
threads=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) bench=$1; shift ;;
  esac
done
[[ -x "$bench" ]] || { echo "error: $bench not found; build it: cmake --build build --target bench_conv" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "error: no PyTorch; run scripts/install-deps --bench" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); threads: $threads"
echo "tapegrad ($bench, TG_NUM_THREADS=$threads) ..."
TG_NUM_THREADS=$threads "$bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_format=json > "$tmp/tg.json"
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') (OPENBLAS_NUM_THREADS=1, torch.set_num_threads($threads)) ..."
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/conv_torch.py --threads "$threads" > "$tmp/torch.jsonl"

/usr/bin/python3 - "$tmp/tg.json" "$tmp/torch.jsonl" <<'EOF2'
import json, sys
scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
tg = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("aggregate_name") == "median":
        tg[b["run_name"].removesuffix("/real_time")] = b["real_time"] * scale[b["time_unit"]]
torch = {r["name"]: r["ms_per_iter"] for r in map(json.loads, open(sys.argv[2]))}
print(f"{'case':<22} {'tapegrad ms':>12} {'PyTorch ms':>12} {'ratio':>7}")
for name, t in tg.items():
    p = torch.get(name)
    print(f"{name:<22} {t:12.2f} {p if p else float('nan'):12.2f} " + (f"{t / p:7.2f}" if p else "      -"))
EOF2
