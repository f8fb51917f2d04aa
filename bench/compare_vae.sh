#!/usr/bin/env bash
# The MNIST VAE trained by PyTorch (bench/vae_torch.py, its examples/vae) and by `vae train`, on the
# same data and epochs, one after the other in one run on this machine: seconds per epoch, the ratio,
# and both test losses. Needs `scripts/install-deps --bench` (python3-torch) and a built `vae`.
#
#   bench/compare_vae.sh [--data DIR] [--epochs N] [--threads T] [--vae build/examples/vae/vae]
set -euo pipefail
cd "$(dirname "$0")/.."
data=examples/vae/data/mnist-subset
epochs=10
threads=2
vae=build/examples/vae/vae
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --vae) vae=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x "$vae" ]] || { echo "error: $vae not found; build it: cmake --build build --target vae" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "error: no PyTorch; run scripts/install-deps --bench" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; threads: $threads"
echo "PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') (OPENBLAS_NUM_THREADS=1, torch.set_num_threads($threads)) ..."
OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/vae_torch.py --data "$data" --epochs "$epochs" --threads "$threads" > "$tmp/torch.jsonl"
echo "tapegrad ..."
"$vae" train --data "$data" --epochs "$epochs" --threads "$threads" --out "$tmp/tg" > "$tmp/tg.log"

python3 - "$tmp/torch.jsonl" "$tmp/tg/metrics.jsonl" <<'EOF'
import json, sys
torch = [json.loads(l) for l in open(sys.argv[1])]
tg = [json.loads(l) for l in open(sys.argv[2])]
print(f"{'epoch':>5} {'torch s':>8} {'tapegrad s':>10} {'speed-up':>8} {'torch test':>10} {'tapegrad test':>13}")
for a, b in zip(torch, tg):
    print(f"{a['epoch']:>5} {a['seconds']:8.3f} {b['seconds']:10.3f} {a['seconds'] / b['seconds']:7.2f}x "
          f"{a['test_loss']:10.3f} {b['test_loss']:13.3f}")
ts = sum(a['seconds'] for a in torch) / len(torch)
gs = sum(b['seconds'] for b in tg) / len(tg)
print(f"mean seconds per epoch: PyTorch {ts:.3f}, tapegrad {gs:.3f}; tapegrad is {ts / gs:.2f}x PyTorch's speed")
print(f"final test loss (nats per image): PyTorch {torch[-1]['test_loss']:.3f}, tapegrad {tg[-1]['test_loss']:.3f}, "
      f"difference {tg[-1]['test_loss'] - torch[-1]['test_loss']:+.3f}")
EOF
