#!/usr/bin/env bash
# Training-step speed of this workbench against the PyTorch eager peer (../shared/bench/tiny_llava.py, same
# architecture), interleaved: ROUNDS rounds of (ours, peer) per dtype; prints each median ms/step, the median of the
# rounds and the ratio peer/ours (> 1: ours is faster). Install the peer as ../shared/bench/README.md says.
# Usage: environment/bench-train-peer.sh [LLAVA_MED_CLI] [ROUNDS] [STEPS]   (run under flock /work/locks/heavy.lock)
# Both train every weight (ours with --train-vision-tower; the curriculum itself never trains the tower).
set -euo pipefail
cli=${1:-llava-med}; rounds=${2:-3}; steps=${3:-20}
bench=$(cd "$(dirname "$0")/../../shared/bench" 2>/dev/null && pwd || echo /work/shared/bench)
openblas=${PEER_OPENBLAS:-/tmp/peer-openblas/usr/lib/x86_64-linux-gnu/openblas-openmp}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
for dtype in float32 bfloat16; do
  peer_dtype=$([ "$dtype" = bfloat16 ] && echo bf16 || echo f32)
  ours=(); peer=()
  for round in $(seq "$rounds"); do
    o=$("$cli" bench train --config "$bench/tiny-llava-peer.config.json" --batch-size 8 --text-tokens 64 --dtype "$dtype" \
          --threads 2 --steps "$steps" --train-vision-tower | grep -o 'median [0-9.]* ms/step' | awk '{print $2}')
    p=$(LD_LIBRARY_PATH=$openblas /usr/bin/python3 "$bench/tiny_llava.py" 2 "$steps" "$peer_dtype" | grep -o 'median [0-9.]* ms/step' | awk '{print $2}')
    echo "$dtype round $round: ours $o ms/step, peer $p ms/step; load $(cut -d' ' -f1-3 /proc/loadavg)"
    ours+=("$o"); peer+=("$p")
  done
  mo=$(printf '%s\n' "${ours[@]}" | median); mp=$(printf '%s\n' "${peer[@]}" | median)
  echo "$dtype: ours median $mo ms/step, peer median $mp ms/step, peer/ours $(awk -v a="$mp" -v b="$mo" 'BEGIN {printf "%.2f", a / b}')x"
done
