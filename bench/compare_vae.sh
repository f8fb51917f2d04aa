#!/usr/bin/env bash
# The MNIST VAE (PyTorch's examples/vae model) trained on the same data and epochs, one after the other
# in one run on this machine, by PyTorch (bench/vae_torch.py), by libtorch's C++ frontend
# (bench/vae_libtorch, built where Debian's libtorch-dev is installed) and by `vae train`; prints
# seconds per epoch for each, tapegrad's speed-up over both, the final test losses and each run's peak
# RSS (/usr/bin/time -f %M). Needs `scripts/install-deps --bench` and a build with bench/ on.
#
#   bench/compare_vae.sh [--data DIR] [--epochs N] [--threads T] [--simd avx2] [--build DIR]
#
# --simd U also runs tapegrad with TG_SIMD=U (e.g. avx2 on an AVX-512 machine: the unit most CPUs have).
# The peers run with OPENBLAS_NUM_THREADS=1 and T intra-op threads, their best setting here.
set -euo pipefail
cd "$(dirname "$0")/.."
data=examples/vae/data/mnist-subset
epochs=10
threads=2
simd=""
build=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --simd) simd=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
vae=$build/examples/vae/vae
libtorch=$build/bench/vae_libtorch
[[ -x "$vae" ]] || { echo "error: $vae not found; build it: cmake --build $build --target vae" >&2; exit 1; }
[[ -x "$libtorch" ]] || { echo "error: $libtorch not found; run scripts/install-deps --bench, then reconfigure and build $build" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "error: no PyTorch; run scripts/install-deps --bench" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time is missing; run scripts/install-deps --bench" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=$(grep -m1 '^flags' /proc/cpuinfo)
level=sse4.2
[[ $flags == *" avx2 "* && $flags == *" fma "* ]] && level=avx2
[[ $flags == *" avx512f "* && $flags == *" avx512bw "* ]] && level=avx512
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, best SIMD unit $level; threads: $threads; data: $data; epochs: $epochs"
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') and libtorch (OPENBLAS_NUM_THREADS=1, $threads intra-op threads)"

# name, then the command: its stdout (JSON lines) goes to $tmp/name.jsonl, its peak RSS to $tmp/name.rss.
run() {
  local name=$1
  shift
  echo "running $name ..."
  /usr/bin/time -f %M -o "$tmp/$name.rss" "$@" > "$tmp/$name.out"
}
OPENBLAS_NUM_THREADS=1 run pytorch /usr/bin/python3 bench/vae_torch.py --data "$data" --epochs "$epochs" --threads "$threads"
cp "$tmp/pytorch.out" "$tmp/pytorch.jsonl"
OPENBLAS_NUM_THREADS=1 run libtorch "$libtorch" --data "$data" --epochs "$epochs" --threads "$threads"
cp "$tmp/libtorch.out" "$tmp/libtorch.jsonl"
run tapegrad "$vae" train --data "$data" --epochs "$epochs" --threads "$threads" --out "$tmp/tg"
cp "$tmp/tg/metrics.jsonl" "$tmp/tapegrad.jsonl"
runs=(pytorch libtorch tapegrad)
if [[ -n "$simd" ]]; then
  TG_SIMD=$simd run "tapegrad-$simd" "$vae" train --data "$data" --epochs "$epochs" --threads "$threads" --out "$tmp/tg-$simd"
  cp "$tmp/tg-$simd/metrics.jsonl" "$tmp/tapegrad-$simd.jsonl"
  runs+=("tapegrad-$simd")
fi

python3 - "$tmp" "${runs[@]}" <<'EOF'
import json, sys
tmp, names = sys.argv[1], sys.argv[2:]
runs = {n: [json.loads(l) for l in open(f"{tmp}/{n}.jsonl") if l.strip()] for n in names}
rss = {n: int(open(f"{tmp}/{n}.rss").read().split()[-1]) / 1024 for n in names}
# Epoch 1 includes warm-up (page faults, first allocations); the mean is over the rest when there is one.
def mean_seconds(r):
    s = [e["seconds"] for e in r]
    s = s[1:] if len(s) > 1 else s
    return sum(s) / len(s)
print(f"{'run':<16} {'s/epoch':>8} {'final test loss':>16} {'peak RSS MB':>12}")
for n in names:
    print(f"{n:<16} {mean_seconds(runs[n]):8.3f} {runs[n][-1]['test_loss']:16.3f} {rss[n]:12.1f}")
pt, lt = mean_seconds(runs["pytorch"]), mean_seconds(runs["libtorch"])
for n in names[2:]:
    t = mean_seconds(runs[n])
    print(f"{n}: {pt / t:.2f}x PyTorch's speed, {lt / t:.2f}x libtorch's "
          f"(epoch at {t / lt:.2f} of libtorch's time); test loss {runs[n][-1]['test_loss'] - runs['pytorch'][-1]['test_loss']:+.3f} vs PyTorch")
EOF
