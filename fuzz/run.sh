#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (not part of CI).
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Set
# FUZZ_TARGET_DIR to build somewhere else than fuzz/target. Crashes are left in
# fuzz/artifacts/<target>/; each one found becomes a regression test in the crate it hit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(frame row ddl query_check splitter)
fi
target_dir=()
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
    target_dir=(--target-dir "$FUZZ_TARGET_DIR")
fi
status=0
for t in "${targets[@]}"; do
    echo "== $t: ${seconds}s"
    mkdir -p "fuzz/corpus/$t"
    if ! cargo +nightly fuzz run "${target_dir[@]}" "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 2>&1 | tee "fuzz/last-$t.log" |
        grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Test unit written)"; then
        :
    fi
    if grep -q "Test unit written" "fuzz/last-$t.log"; then
        echo "!! $t: crash, see fuzz/last-$t.log and fuzz/artifacts/$t/"
        status=1
    fi
done
exit $status
