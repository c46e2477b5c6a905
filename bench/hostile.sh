#!/usr/bin/env bash
# The public-relay figures (BENCHMARKS.md, "A relay for strangers"): an
# honest client's put-ack latency during each attack, 10,000 idle
# connections, a burst at a subscriber that stopped reading, and (with
# `soak`) 1,000 clients for 10 minutes. The `gun` relay runs with its
# default quotas, its store on disk; all traffic stays on 127.0.0.0/8 and
# every loop is bounded.
#
#   bench/hostile.sh            latency, idle, burst
#   bench/hostile.sh soak [MIN] the soak (default 10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p gun-io-tokio --bin gun
cargo build --release -q -p gun-examples --example hostile
TOOL=target/release/examples/hostile
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
# 10,000 connections on each side of loopback.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME FLAGS... -> sets PORT and PID
start() {
  local name=$1; shift
  PORT=$(free_port)
  mkdir -p "$WORK/$name"
  target/release/gun --port "$PORT" --data "$WORK/$name" --log error "$@" >"$WORK/$name.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do grep -q listening "$WORK/$name.log" 2>/dev/null && break; sleep 0.1; done
}

stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
if [ "${1:-}" = soak ]; then
  start soak --max-connections 20000 ${GUN_SOAK_FLAGS:-}
  echo "== soak: 1,000 clients, ${2:-10} minutes (puts, gets, subscriptions, reconnects, hostile frames)"
  "$TOOL" soak --url "ws://127.0.0.1:$PORT/gun" --pid "$PID" --clients 1000 --minutes "${2:-10}"
  stop
  exit 0
fi

start latency
echo "== an honest client's put-ack latency during each attack (default quotas)"
"$TOOL" latency --url "ws://127.0.0.1:$PORT/gun" --seconds 4
stop

start idle --max-connections 11000
echo "== 10,000 idle WebSocket connections"
"$TOOL" idle --url "ws://127.0.0.1:$PORT/gun" --pid "$PID" --conns 10000 --hold 10
stop

start burst
echo "== a writer bursting 100,000 puts at 10 subscribers, 1 of which stops reading (ceiling: max_queued_bytes 256 MiB)"
"$TOOL" burst --url "ws://127.0.0.1:$PORT/gun" --pid "$PID" --puts 100000 --subscribers 10 --slow 1
stop
