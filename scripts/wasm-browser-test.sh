#!/usr/bin/env bash
# Runs kalam-client's browser tests (tests/browser.rs) in headless Chromium: starts an
# emulator binary on a loopback port, builds the tests for wasm32 with its URL, and runs them
# through wasm-bindgen-test-runner and chromedriver. The page is served by the runner from
# another port, so every request crosses origins as a web app's would.
#
#   scripts/wasm-toolchain.sh --browser   # once, as root
#   scripts/wasm-browser-test.sh
#
# CARGO_TARGET_DIR is the native target directory (the emulator binary), WASM_TARGET_DIR the
# wasm32 one (see scripts/wasm-build.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in wasm-bindgen-test-runner chromedriver chromium; do
    command -v "$tool" >/dev/null || {
        echo "wasm-browser-test: $tool is missing; run scripts/wasm-toolchain.sh --browser" >&2
        exit 1
    }
done

cd "$root"
cargo build --quiet -p kalam-emulator --bin kalam-emulator
emulator="${CARGO_TARGET_DIR:-$root/target}/debug/kalam-emulator"

log="$(mktemp)"
"$emulator" --listen 127.0.0.1:0 --root-password 'RootPass123!' \
    --user 'admin:AdminPass123!:dba' > "$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 100); do
    url="$(sed -n 's/^listening on //p' "$log")"
    [[ -n "$url" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$url" ]] || { echo "wasm-browser-test: the emulator did not start" >&2; exit 1; }

export KALAM_BROWSER_TEST_URL="$url"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="$(command -v chromedriver)"
"$root/scripts/wasm-build.sh" test --test browser
