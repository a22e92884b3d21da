#!/usr/bin/env bash
# Builds kalam-client for wasm32-unknown-unknown with Debian's toolchain (installed by
# scripts/wasm-toolchain.sh). The standard library is built from source on the first run
# (-Zbuild-std, which RUSTC_BOOTSTRAP allows on a stable compiler) and cached in the target
# directory after that.
#
#   scripts/wasm-build.sh [cargo build args...]         # e.g. --release
#   scripts/wasm-build.sh test [cargo test args...]     # what scripts/wasm-browser-test.sh runs
#
# WASM_TARGET_DIR picks the target directory (default: target/wasm32 in the workspace, apart
# from the native build, whose compiler differs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for tool in /usr/bin/cargo /usr/bin/rustc wasm-ld; do
    command -v "$tool" >/dev/null || {
        echo "wasm-build: $tool is missing; run scripts/wasm-toolchain.sh" >&2
        exit 1
    }
done
verb=build
if [[ "${1:-}" == test ]]; then
    verb=test
    shift
fi

export RUSTC_BOOTSTRAP=1
export RUSTC=/usr/bin/rustc
# rustup's wrappers must not pick another toolchain for the Debian cargo.
unset RUSTUP_TOOLCHAIN RUSTDOC
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld
# getrandom (under rand) takes its randomness from the browser's crypto.getRandomValues.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS='--cfg getrandom_backend="wasm_js"'
export CARGO_TARGET_DIR="${WASM_TARGET_DIR:-$root/target/wasm32}"

cd "$root"
exec /usr/bin/cargo "$verb" \
    -Zbuild-std=std,panic_abort \
    --target wasm32-unknown-unknown \
    -p kalam-client --no-default-features --features macros \
    "$@"
