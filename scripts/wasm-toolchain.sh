#!/usr/bin/env bash
# Installs what building kalam-client for wasm32-unknown-unknown needs, from package registries
# only: Debian's Rust toolchain built for web engines (rustc-web, cargo-web, and the standard
# library source in rust-web-src, since no prebuilt wasm32 standard library can be downloaded
# here) and lld for wasm-ld. With `--browser` it also installs headless Chromium, its WebDriver
# and wasm-bindgen-cli at the exact version of the wasm-bindgen crate in Cargo.lock.
#
# Idempotent: whatever is already installed is skipped. Run as root (apt-get install).
#
#   scripts/wasm-toolchain.sh             # compiler, std source, linker
#   scripts/wasm-toolchain.sh --browser   # and what the browser tests need
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
browser=false
for arg in "$@"; do
    case "$arg" in
        --browser) browser=true ;;
        *) echo "usage: $0 [--browser]" >&2; exit 2 ;;
    esac
done

missing=()
need_deb() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || missing+=("$1")
}
need_deb rustc-web
need_deb cargo-web
need_deb rust-web-src
need_deb lld
if $browser; then
    need_deb chromium
    need_deb chromium-driver
fi
if ((${#missing[@]})); then
    echo "wasm-toolchain: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# wasm-ld: Debian's lld ships it versioned (wasm-ld-14); cargo is pointed at the plain name.
if ! command -v wasm-ld >/dev/null; then
    ld="$(ls /usr/bin/wasm-ld-* 2>/dev/null | sort -V | tail -n1)"
    [[ -n "$ld" ]] || { echo "wasm-toolchain: lld installed no wasm-ld" >&2; exit 1; }
    ln -sf "$ld" /usr/local/bin/wasm-ld
fi

if $browser; then
    # The CLI must match the wasm-bindgen crate the build links, to the patch version.
    want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' \
        "$root/Cargo.lock")"
    [[ -n "$want" ]] || { echo "wasm-toolchain: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
    have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
    if [[ "$have" != "$want" ]]; then
        echo "wasm-toolchain: installing wasm-bindgen-cli $want"
        # Its own lock file first; when the registry no longer serves a version locked there,
        # the newest compatible versions.
        cargo install --locked --version "=$want" wasm-bindgen-cli ||
            cargo install --version "=$want" wasm-bindgen-cli
    fi
fi

/usr/bin/rustc --version
echo "wasm-toolchain: ready"
