#!/usr/bin/env bash
# Fan-out and memory of two `showdown` builds side by side (BENCHMARKS.md,
# "Fan-out and load"): alternating rounds of
#   busy:   1,000 tables x (6 players + 4 spectators) = 10,000 connections
#   idle:   5,000 spectators of 10 empty tables (memory per idle connection)
#   tables: 1,000 tables of 6 bots, no connections (memory per active table)
# each against a fresh SQLite file and a fresh server process, and prints one
# line per run and the medians per build.
#
# Usage: benches/fanout_compare.sh BASE_SHOWDOWN NEW_SHOWDOWN [ROUNDS] [SECONDS]
# Build first: cargo build --release -p server --bin showdown -p loadgen
# (an older build: check its commit out in a git worktree and build it there).
set -euo pipefail

base=$1
new=$2
rounds=${3:-2}
secs=${4:-40}
root=$(cd "$(dirname "$0")/.." && pwd)
loadgen=${LOADGEN:-$root/target/release/loadgen}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
for bin in "$base" "$new" "$loadgen"; do
  [ -x "$bin" ] || { echo "missing $bin: build it first" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
run() { # build-name binary scenario round -> one JSON report in $work
  local name=$1 bin=$2 scenario=$3 round=$4
  local db="$work/$name-$scenario-$round.db" port
  port=$(free_port)
  "$bin" serve --bind "127.0.0.1:$port" --database-url "sqlite://$db" --api-key benchkey \
    --max-connections 20000 --between-hands-ms 1000 >"$work/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  local l=("$loadgen" --target "127.0.0.1:$port" --api-key benchkey --pid "$pid" --json)
  case $scenario in
    busy) "${l[@]}" --tables 1000 --players 6 --bots 0 --spectators 4 --duration-secs "$secs" --ramp-per-sec 1000 ;;
    idle) "${l[@]}" --tables 10 --players 0 --bots 0 --spectators 500 --duration-secs 10 --ramp-per-sec 1000 ;;
    tables) "${l[@]}" --tables 1000 --players 0 --bots 6 --spectators 0 --duration-secs "$secs" ;;
  esac >"$work/$name-$scenario-$round.json" 2>"$work/loadgen.log" || echo "loadgen failed: $(tail -3 "$work/loadgen.log")" >&2
  kill -INT "$pid" 2>/dev/null || echo "the $name server had stopped: $(tail -3 "$work/server.log")" >&2
  wait "$pid" 2>/dev/null || true
}

for round in $(seq "$rounds"); do
  for scenario in busy idle tables; do
    # Alternate which build goes first.
    if [ $((round % 2)) -eq 1 ]; then order="base new"; else order="new base"; fi
    for name in $order; do
      if [ "$name" = base ]; then bin=$base; else bin=$new; fi
      run "$name" "$bin" "$scenario" "$round"
      echo "round $round $scenario $name done" >&2
    done
  done
done

python3 - "$work" <<'EOF'
import json, os, statistics, sys
work = sys.argv[1]
rows = {}
for f in sorted(os.listdir(work)):
    if not f.endswith(".json"):
        continue
    name, scenario, _ = f[:-5].split("-")
    try:
        r = json.load(open(os.path.join(work, f)))
    except ValueError:
        continue
    s = r.get("server") or {}
    lat = r.get("latency_ms") or {}
    line = {
        "p99_ms": lat.get("p99"),
        "held": r.get("connections_held"),
        "dropped": r.get("dropped"),
        "bytes_per_conn": s.get("bytes_per_connection"),
        "bytes_per_table": s.get("bytes_per_table_all_in"),
        "cpu_percent": s.get("cpu_percent"),
    }
    print(f"{scenario:7} {name:5} " + " ".join(f"{k}={v}" for k, v in line.items()))
    rows.setdefault((scenario, name), []).append(line)
print()
for (scenario, name), lines in sorted(rows.items()):
    med = {}
    for k in ("p99_ms", "bytes_per_conn", "bytes_per_table", "cpu_percent"):
        vals = [l[k] for l in lines if isinstance(l[k], (int, float))]
        med[k] = round(statistics.median(vals), 1) if vals else None
    print(f"median {scenario:7} {name:5} " + " ".join(f"{k}={v}" for k, v in med.items()))
EOF
