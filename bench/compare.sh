#!/usr/bin/env bash
# Runs the same loads against the `gun` relay and a Gun.js relay (the pinned
# npm package with its default disk store, AXE on) in one run, and prints
# both figures and their ratio. Everything listens on 127.0.0.1.
#
#   bench/compare.sh            (from a fresh clone; installs what it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --prefix tests/interop --no-audit --no-fund >/dev/null
cargo build --release -q -p gun-io-tokio --bin gun
cargo build --release -q -p gun-examples --example load
LOAD=target/release/examples/load
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_relay KIND PORT DIR -> prints the pid once listening
start_relay() {
  local kind=$1 port=$2 dir=$3 log="$WORK/$kind-$port.log"
  if [ "$kind" = gun ]; then
    target/release/gun --port "$port" --data "$dir" --log warn >"$log" 2>&1 &
  else
    node tests/interop/relay.js "$port" "$dir" >"$log" 2>&1 &
  fi
  local pid=$!
  for _ in $(seq 1 100); do grep -q listening "$log" 2>/dev/null && break; sleep 0.1; done
  echo "$pid"
}

# run NAME LOAD-ARGS...: one fresh relay of each kind, same load, side by side.
run() {
  local name=$1; shift
  declare -A out
  for kind in gun gunjs; do
    local port dir pid
    port=$(free_port); dir="$WORK/$kind-$name"; mkdir -p "$dir"
    pid=$(start_relay "$kind" "$port" "$dir")
    out[$kind]=$(timeout 180 "$LOAD" --url "ws://127.0.0.1:$port/gun" --pid "$pid" --timeout 60 "$@" 2>&1 || echo "failed")
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
  echo "== $name: $*"
  for metric in acked_puts ack_latency_us delivered latency_us relay_peak_rss_mib failed; do
    local a b
    a=$(printf '%s\n' "${out[gun]}" | grep "^$metric" || true)
    b=$(printf '%s\n' "${out[gunjs]}" | grep "^$metric" || true)
    [ -z "$a$b" ] && continue
    printf '  %-20s gun:   %s\n' "$metric" "${a#"$metric "}"
    printf '  %-20s gunjs: %s\n' "" "${b#"$metric "}"
    local ra rb
    ra=$(printf '%s' "$a" | grep -oE '= [0-9.]+/s' | grep -oE '[0-9.]+' || true)
    rb=$(printf '%s' "$b" | grep -oE '= [0-9.]+/s' | grep -oE '[0-9.]+' || true)
    if [ -n "$ra" ] && [ -n "$rb" ]; then
      printf '  %-20s ratio: %s x\n' "" "$(python3 -c "print(round($ra/$rb, 1))")"
    fi
  done
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
python3 bench/fdatasync.py "$WORK"
run acked --writers 1 --puts 10000 --in-flight 10000
run acked-1000 --writers 1 --puts 10000 --in-flight 1000
run acked-sea --writers 1 --puts 10000 --in-flight 1000 --sea
run fanout --writers 1 --puts 5000 --in-flight 1000 --subscribers 100
run latency --writers 1 --puts 20000 --rate 10000 --subscribers 10

echo "== SEA signature verifications/s, one core (user-space values, as relays check them)"
cargo bench -q -p gun-proto --bench auth -- sea_ 2>/dev/null | grep -E "sea_|item/s" | sed 's/^/  gun:   /'
node bench/sea-verify.js 1000 | sed 's/^/  gunjs: /'

echo "== engine (gun-proto, in one process; Gun.js has no equivalent to run here)"
cargo bench -q -p gun-proto --bench engine 2>/dev/null | grep -vE "^\s*$" | tee "$WORK/bench.txt"

node --expose-gc tests/interop/memory.js 100000 | grep '^gunjs_' > "$WORK/gunjs-mem.txt"
echo "== property puts in one process (100,000 properties, 10 per node)"
ours_puts=$(awk '/merge_props/{f=1} f && /100000/{g=1} g && /item\/s/{print; exit}' "$WORK/bench.txt" | awk -F'│' '{print $4}' | xargs)
echo "  gun:   $ours_puts (median, merge_props 100000)"
printf '  gunjs: '; grep -o 'gunjs_property_puts_per_s.*' "$WORK/gunjs-mem.txt" | sed 's/gunjs_property_puts_per_s //; s/$//'

echo "== memory per stored property (100,000 properties, 10 per node)"
# Ours: the peak bytes the bench's graph of 100,000 properties allocates.
ours=$(awk '/memory_per_property/{f=1} f && /[0-9.]+ (KB|MB|GB)/{print $2, $3; exit}' "$WORK/bench.txt")
python3 - "$ours" <<'PY'
import sys
v, unit = sys.argv[1].split()
b = float(v) * {"KB": 1e3, "MB": 1e6, "GB": 1e9}[unit]
print(f"  gun:   {b / 100000:.0f} bytes per property (peak allocation of the graph)")
PY
printf '  gunjs: '
grep -o 'gunjs_bytes_per_property.*' "$WORK/gunjs-mem.txt" | sed 's/gunjs_bytes_per_property \([0-9]*\)/\1 bytes per property (heap after GC)/'

echo "== cold start: 1,000,000 properties in redb (the default store)"
cargo build --release -q -p gun-examples --example cold_start
target/release/examples/cold_start 1000000
echo "  (Gun.js: not measured; its relay acks a few thousand puts/s here, so loading"
echo "   1,000,000 properties through it takes minutes, and radisk has no whole-store read to time)"
