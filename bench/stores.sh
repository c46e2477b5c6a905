#!/usr/bin/env bash
# The stores side by side (issue #17): redb, fjall and sled on a cold start
# with a million properties, and through the `gun` relay on the loads of
# bench/compare.sh, each relay started afresh, quotas off. Everything
# listens on 127.0.0.1. GUN_NOINDEX_BIN, when set, names a `gun` built
# without the soul index, run beside the default on the new-souls load.
#
#   bench/stores.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p gun-io-tokio --bin gun
cargo build --release -q -p gun-examples --example load --example cold_start
LOAD=target/release/examples/load
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
python3 bench/fdatasync.py "$WORK"

echo "== cold start: 1,000,000 properties, 10 per node (examples/cold_start.rs)"
for store in redb fjall sled; do
  for batch in 100000 1000; do
    printf '  %-6s batches of %-6s ' "$store" "$batch"
    TMPDIR=$WORK target/release/examples/cold_start 1000000 "$store" "$batch" | tr '\n' ' '
    echo
  done
done

# run BIN STORE LOAD-ARGS...: one fresh relay, one load (bench/latency.sh).
run() {
  local bin=$1 store=$2; shift 2
  LOAD=$LOAD bench/latency.sh "$bin" "$store" "$@" | grep -v '^delivered' \
    | sed "s/^/  $store: /" || echo "  $store: failed"
}

for round in 1 2; do
  echo "== round $round: 2 writers x 50,000 puts, 1,000 in flight each"
  for store in redb fjall sled; do run target/release/gun "$store" --writers 2 --puts 50000 --in-flight 1000; done
  echo "== round $round: 1 writer at 10,000 puts/s to 10 subscribers"
  for store in redb fjall sled; do run target/release/gun "$store" --writers 1 --puts 20000 --rate 10000 --subscribers 10; done
  echo "== round $round: 2 writers x 50,000 puts, each to a new soul"
  for store in redb fjall sled; do run target/release/gun "$store" --writers 2 --puts 50000 --in-flight 1000 --new-souls; done
  if [ -n "${GUN_NOINDEX_BIN:-}" ]; then
    run "$GUN_NOINDEX_BIN" redb --writers 2 --puts 50000 --in-flight 1000 --new-souls | sed 's/redb:/redb, no soul index:/'
  fi
done
