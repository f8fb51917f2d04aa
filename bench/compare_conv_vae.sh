#!/usr/bin/env bash
# The convolutional VAE (`vae train --model conv-vae`) trained by PyTorch (bench/conv_vae_torch.py), by
# libtorch's C++ frontend (bench/conv_vae_libtorch, when built) and by tapegrad, on the same data and
# epochs, one after the other in one run on this machine; then tapegrad's MLP VAE under the same flags.
# Prints seconds per epoch side by side, the ratios, and every final test loss. Needs python3-torch
# (and libtorch-dev for the libtorch column) and a built `vae`.
#
#   bench/compare_conv_vae.sh [--data DIR] [--epochs N] [--threads T] [--vae build/examples/vae/vae]
#                             [--libtorch build/bench/conv_vae_libtorch] [--no-mlp]
set -euo pipefail
cd "$(dirname "$0")/.."
data=examples/vae/data/mnist-subset
epochs=10
threads=2
vae=build/examples/vae/vae
libtorch=build/bench/conv_vae_libtorch
mlp=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --vae) vae=$2; shift 2 ;;
    --libtorch) libtorch=$2; shift 2 ;;
    --no-mlp) mlp=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x "$vae" ]] || { echo "error: $vae not found; build it: cmake --build build --target vae" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "error: no PyTorch; run scripts/install-deps --bench" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); threads: $threads"
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') (OPENBLAS_NUM_THREADS=1, torch.set_num_threads($threads)) ..."
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/conv_vae_torch.py --data "$data" --epochs "$epochs" --threads "$threads" > "$tmp/torch.jsonl"
if [[ -x "$libtorch" ]]; then
  echo "libtorch ..."
  OPENBLAS_NUM_THREADS=1 "$libtorch" --data "$data" --epochs "$epochs" --threads "$threads" > "$tmp/libtorch.jsonl"
else
  echo "libtorch: $libtorch not built (needs libtorch-dev; cmake -DTG_BUILD_BENCH=ON), skipped"
  : > "$tmp/libtorch.jsonl"
fi
echo "tapegrad conv-vae ..."
"$vae" train --model conv-vae --data "$data" --epochs "$epochs" --threads "$threads" --out "$tmp/tg" > "$tmp/tg.log"
if [[ $mlp == 1 ]]; then
  echo "tapegrad vae (the MLP, same flags) ..."
  "$vae" train --model vae --data "$data" --epochs "$epochs" --threads "$threads" --out "$tmp/mlp" > "$tmp/mlp.log"
else
  mkdir -p "$tmp/mlp" && : > "$tmp/mlp/metrics.jsonl"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$tmp/torch.jsonl" "$tmp/libtorch.jsonl" "$tmp/tg/metrics.jsonl" "$tmp/mlp/metrics.jsonl" <<'EOF2'
import json, sys
torch, lt, tg, mlp = ([json.loads(l) for l in open(p)] for p in sys.argv[1:5])
print(f"{'epoch':>5} {'torch s':>8} {'libtorch s':>10} {'tapegrad s':>10} {'torch test':>10} {'libtorch test':>13} {'tapegrad test':>13}")
for i, (a, c) in enumerate(zip(torch, tg)):
    b = lt[i] if i < len(lt) else None
    print(f"{a['epoch']:>5} {a['seconds']:8.3f} {b['seconds'] if b else float('nan'):10.3f} {c['seconds']:10.3f} "
          f"{a['test_loss']:10.3f} {b['test_loss'] if b else float('nan'):13.3f} {c['test_loss']:13.3f}")
mean = lambda rows: sum(r['seconds'] for r in rows) / len(rows)
ts, gs = mean(torch), mean(tg)
line = f"mean seconds per epoch: PyTorch {ts:.3f}"
if lt:
    line += f", libtorch {mean(lt):.3f}"
line += f", tapegrad {gs:.3f}; tapegrad takes {gs / ts:.2f}x PyTorch's time"
if lt:
    line += f" and {gs / mean(lt):.2f}x libtorch's"
print(line)
print(f"final test loss (nats per image): PyTorch {torch[-1]['test_loss']:.3f}"
      + (f", libtorch {lt[-1]['test_loss']:.3f}" if lt else "")
      + f", tapegrad conv-vae {tg[-1]['test_loss']:.3f} (difference to PyTorch {tg[-1]['test_loss'] - torch[-1]['test_loss']:+.3f})")
if mlp:
    print(f"tapegrad MLP vae, same flags: test loss {mlp[-1]['test_loss']:.3f}, {mean(mlp):.3f} s per epoch; "
          f"the conv VAE is {mlp[-1]['test_loss'] - tg[-1]['test_loss']:.3f} nats better")
EOF2
