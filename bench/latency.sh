#!/usr/bin/env bash
# One fresh `gun` relay, one load against it, the load tool's figures:
#   bench/latency.sh BIN STORE LOAD-ARGS...
# e.g. bench/latency.sh target/release/gun redb --writers 1 --puts 20000 \
#        --rate 10000 --subscribers 10 --threads 1
# Quotas are off so the load is not throttled; the store lives in a fresh
# temporary directory removed afterwards; everything listens on 127.0.0.1.
# First the disk's fdatasync latency there (bench/fdatasync.py): the floor
# of the ack latency.
# Build the load tool first (LOAD names another one):
#   cargo build --release -p gun-examples --example load
set -euo pipefail
BIN=$1; STORE=$2; shift 2
LOAD=${LOAD:-$(dirname "$0")/../target/release/examples/load}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
python3 "$(dirname "$0")/fdatasync.py" "$dir"
"$BIN" --port "$port" --data "$dir/data" --store "$STORE" --log warn \
  --max-msgs-per-sec 0 --max-bytes-per-sec 0 > "$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do grep -q listening "$dir/log" 2>/dev/null && break; sleep 0.1; done
timeout 180 "$LOAD" --url "ws://127.0.0.1:$port/gun" --pid "$pid" --timeout 60 "$@" 2>&1 \
  | grep -E '^(acked_puts|ack_latency_us|delivered|latency_us|relay_peak)'
