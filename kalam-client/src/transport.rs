//! What differs between the native client and the browser build: spawning, timers, the clock
//! and the WebSocket. The rest of the crate (envelopes, decoding, live bookkeeping) is the same
//! code on both targets and reaches the platform only through these names.
//!
//! Native (`tokio`): tasks on the current runtime, tokio's timers, `std::time`, and
//! tokio-tungstenite with the token in the upgrade request. Browser (`wasm32`): tasks on the
//! page's event loop (wasm-bindgen-futures), `setTimeout` timers (gloo-timers), `Date.now()`
//! (web-time), and the page's `WebSocket` (gloo-net) authenticated by its first message, since
//! a browser cannot set headers on the upgrade.

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(not(target_arch = "wasm32"))]
mod native;

#[cfg(target_arch = "wasm32")]
pub(crate) use browser::*;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::*;

/// The deadline of [`timeout`] passed first.
#[derive(Debug)]
pub(crate) struct Elapsed;

/// A WebSocket failure as the crate reports it.
pub(crate) fn ws_error(what: &str, e: impl std::fmt::Display) -> crate::error::Error {
    crate::error::Error::Protocol(format!("websocket {what}: {e}"))
}
