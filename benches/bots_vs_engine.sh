#!/usr/bin/env bash
# Bot-only experiment throughput against the raw engine, per CPU-second
# (BENCHMARKS.md, "Bot-only experiments"). Interleaves rounds of
#   engine_hands 1000000                     (one thread, the game-core benchmark's loop)
#   showdown experiment run bots-6max.toml   (400,000 hands, two tables, hands.csv written)
# and prints each round's CPU seconds (user + sys) and the bots' hands per
# CPU-second as a share of the engine's. A second binary (an older build) can
# be given to compare it in the same rounds.
#
# Usage: benches/bots_vs_engine.sh [ROUNDS] [OTHER_SHOWDOWN_BINARY]
# Build first: cargo build --release -p server --bin showdown -p game-core --example engine_hands
set -euo pipefail

rounds=${1:-12}
other=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
engine="$root/target/release/examples/engine_hands"
showdown="$root/target/release/showdown"
spec="$root/benches/experiments/bots-6max.toml"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for bin in "$engine" "$showdown" ${other:+"$other"}; do
  [ -x "$bin" ] || { echo "missing $bin: build it first" >&2; exit 1; }
done

cpu() { # command... -> "user+sys wall"
  /usr/bin/time -o "$work/time" -f "%U %S %e" "$@" >/dev/null 2>&1
  awk '{printf "%.2f %.2f", $1 + $2, $3}' "$work/time"
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$rounds"); do
  e=$(cpu "$engine" 1000000)
  rm -rf "$work/out"
  b=$(cpu "$showdown" experiment run "$spec" --out "$work/out")
  o="- -"
  if [ -n "$other" ]; then
    rm -rf "$work/out"
    o=$(cpu "$other" experiment run "$spec" --out "$work/out")
  fi
  echo "$i $e $b $o"
done > "$work/rounds"
awk '
  BEGIN { print "| round | engine CPU s (1,000,000 hands) | bots CPU s (400,000 hands) | bots wall s | bots / engine per CPU-second | other CPU s | other / engine |"
          print "|---|---|---|---|---|---|---|" }
  { r = 100 * ($2 / 1000000) / ($4 / 400000)
    other = ($6 == "-") ? "-" : sprintf("%.2f", $6)
    oratio = ($6 == "-") ? "-" : sprintf("%.1f%%", 100 * ($2 / 1000000) / ($6 / 400000))
    printf "| %d | %.2f | %.2f | %.2f | %.1f%% | %s | %s |\n", $1, $2, $4, $5, r, other, oratio }' "$work/rounds"
awk '{ print 100 * ($2 / 1000000) / ($4 / 400000) }' "$work/rounds" | sort -n |
  awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "\nmedian bots / engine: %.1f%% over %d rounds\n", m, NR }'
