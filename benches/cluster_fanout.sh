#!/usr/bin/env bash
# Cross-node fan-out of a cluster (issue 18, BENCHMARKS.md "Cluster"): three
# `showdown` nodes on one fresh Postgres database and one Redis key prefix
# per run. Tables and their players are set up at node A (which therefore
# runs every table); loadgen's connections then go
#   one:   to node A itself: every client at the table's owner (the baseline),
#   cross: to nodes B and C: every client at a node that mirrors its table,
#          its acts forwarded to A over Redis,
# in alternating rounds (which mode goes first alternates too). Prints one
# line per run (events/s delivered, delivery p50/p99/max, CPU of A, B, C)
# and the medians per mode.
#
# Delivery latency is measured as loadgen always does: receive time minus
# the event's `at_ms`. At A that is the moment the table published the
# event; a mirror stamps its deltas with the owner's commit time, so the
# cross figure counts the Redis hop and the mirror's work but not the
# owner's group commit (a few ms, `showdown_store_durable_wait_seconds`).
#
# Usage: benches/cluster_fanout.sh [ROUNDS] [SECONDS] [TABLES] [PLAYERS] [SPECTATORS]
#   defaults: 3 rounds, 30 s windows, 200 tables x (2 players + 1 bot + 8 spectators)
# Build first: cargo build --release -p server --bin showdown -p loadgen
# Needs Postgres (DB_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/test)
# and Redis (REDIS, default 127.0.0.1:6379).
set -euo pipefail

rounds=${1:-3}
secs=${2:-30}
tables=${3:-200}
players=${4:-2}
spectators=${5:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
showdown=${SHOWDOWN:-$root/target/release/showdown}
loadgen=${LOADGEN:-$root/target/release/loadgen}
admin=${DB_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
redis=${REDIS:-127.0.0.1:6379}
work=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$work"' EXIT
for bin in "$showdown" "$loadgen"; do
  [ -x "$bin" ] || { echo "missing $bin: build it first" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run() { # mode round -> one JSON report in $work
  local mode=$1 round=$2
  local db="showdown_fanout_${round}_${mode}_$$"
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  local url="${admin%/*}/$db"
  local prefix="fanout-$$-$round-$mode:"
  local pids=() ports=()
  for name in a b c; do
    local port
    port=$(free_port)
    "$showdown" serve --bind "127.0.0.1:$port" --database-url "$url" --api-key benchkey \
      --node-id "$name" --redis-url "redis://$redis" --redis-prefix "$prefix" \
      --max-connections 20000 --between-hands-ms 1000 >"$work/$name.log" 2>&1 &
    pids+=($!)
    ports+=("$port")
    for _ in $(seq 200); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  done
  local l=("$loadgen" --target "127.0.0.1:${ports[0]}" --api-key benchkey --json
    --tables "$tables" --players "$players" --bots 1 --spectators "$spectators"
    --duration-secs "$secs" --ramp-per-sec 500 --pid "${pids[0]}"
    --also-pid "${pids[1]}" --also-pid "${pids[2]}")
  if [ "$mode" = cross ]; then
    l+=(--connect "127.0.0.1:${ports[1]}" --connect "127.0.0.1:${ports[2]}")
  fi
  "${l[@]}" >"$work/$mode-$round.json" 2>"$work/loadgen.log" \
    || echo "loadgen failed: $(tail -3 "$work/loadgen.log")" >&2
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}

echo "cluster fan-out: $rounds rounds x $secs s, $tables tables x ($players players + 1 bot + $spectators spectators), 3 nodes" >&2
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then order="one cross"; else order="cross one"; fi
  for mode in $order; do
    run "$mode" "$round"
    echo "round $round $mode done" >&2
  done
done

python3 - "$work" <<'EOF'
import glob, json, os, statistics, sys
work = sys.argv[1]
rows = {"one": [], "cross": []}
for path in sorted(glob.glob(os.path.join(work, "*.json"))):
    mode = os.path.basename(path).split("-")[0]
    try:
        r = json.load(open(path))
    except ValueError:
        continue
    lat = r["latency_ms"]
    cpu = [r["server"]["cpu_percent"] if r.get("server") else None] + r.get("peers_cpu_percent", [])
    row = {
        "events": r["rates"]["events"],
        "actions": r["rates"]["actions"],
        "p50": lat["p50"], "p99": lat["p99"], "max": lat["max"],
        "cpu": cpu, "held": r["connections_held"], "errors": sum(r["errors"].values()) if isinstance(r["errors"], dict) else len(r["errors"]),
    }
    rows[mode].append(row)
    print(f"{mode:5} events/s {row['events']:8.0f} actions/s {row['actions']:6.0f} "
          f"p50 {row['p50']} ms p99 {row['p99']} ms max {row['max']} ms "
          f"CPU A/B/C {'/'.join('-' if c is None else f'{c:.0f}%' for c in cpu)} held {row['held']} errors {row['errors']}")
def med(mode, key, f=lambda v: v):
    vals = [f(r[key]) for r in rows[mode] if r[key] is not None]
    return statistics.median(vals) if vals else float("nan")
print()
print("| mode | runs | events/s delivered | actions/s | delivery p50 | p99 | CPU all nodes (% of a core) | CPU per 1,000 events delivered |")
print("|---|---|---|---|---|---|---|---|")
for mode in ("one", "cross"):
    if not rows[mode]:
        continue
    cpu_total = [sum(c for c in r["cpu"] if c is not None) for r in rows[mode]]
    per_k = [c / r["events"] * 1000 * 10 for c, r in zip(cpu_total, rows[mode]) if r["events"]]
    print(f"| {mode} | {len(rows[mode])} | {med(mode, 'events'):.0f} | {med(mode, 'actions'):.0f} | "
          f"{med(mode, 'p50'):.1f} ms | {med(mode, 'p99'):.1f} ms | {statistics.median(cpu_total):.0f}% | "
          f"{statistics.median(per_k):.2f} ms |")
EOF
