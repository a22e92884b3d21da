//! Fault injection for tests: drop connections, refuse connections, restart, delay responses,
//! answer the next requests with an error.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::net::NetShared;

/// An error the emulator answers instead of handling a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedError {
    /// HTTP status.
    pub status: u16,
    /// Error code (`error.code` of the envelope).
    pub code: String,
    /// Error message.
    pub message: String,
}

#[derive(Debug, Default)]
pub(crate) struct FaultState {
    delay: Mutex<Option<Duration>>,
    failures: Mutex<VecDeque<InjectedError>>,
}

/// The fault controls of one emulator; get it with
/// [`Emulator::faults`](crate::Emulator::faults). Cheap to clone.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), kalam_emulator::Error> {
/// let emu = kalam_emulator::Emulator::start().await?;
/// emu.faults().fail_next(503, "NOT_LEADER", "try again");
/// emu.faults().delay_responses(None);
/// assert_eq!(emu.faults().freeze_connections(), 0);
/// assert_eq!(emu.faults().drop_connections(), 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Faults {
    pub(crate) state: Arc<FaultState>,
    pub(crate) net: Arc<NetShared>,
}

impl Faults {
    /// Closes every open HTTP and WebSocket connection at once (no response, no close frame).
    /// Returns how many connections were open.
    pub fn drop_connections(&self) -> usize {
        self.net.kill_all()
    }

    /// Makes every open HTTP and WebSocket connection half-open: the emulator stops reading
    /// and writing on it but keeps the TCP connection (no FIN, no RST), like a peer that
    /// vanished behind a NAT or a crashed host. New connections work as usual; the frozen ones
    /// stay until [`drop_connections`](Faults::drop_connections) or a restart. Returns how
    /// many connections were frozen.
    pub fn freeze_connections(&self) -> usize {
        self.net.freeze_all()
    }

    /// Closes the listening socket for `duration` (new connections are refused), then reopens
    /// it on the same port. Open connections are not touched.
    pub fn refuse_connections(&self, duration: Duration) {
        self.net.refuse_for(duration);
    }

    /// Simulates a server restart: every connection is dropped, the port is closed briefly and
    /// reopened. Stored data, users and signing keys survive (tokens stay valid). Returns once
    /// the port accepts connections again.
    pub async fn restart(&self) {
        let mut bound = self.net.bound();
        bound.borrow_and_update();
        self.net.kill_all();
        self.net.refuse_for(Duration::from_millis(20));
        let _ = tokio::time::timeout(Duration::from_secs(5), bound.changed()).await;
    }

    /// Delays every response by `delay` (`None` turns it off).
    pub fn delay_responses(&self, delay: Option<Duration>) {
        *self.state.delay.lock().unwrap_or_else(|e| e.into_inner()) = delay;
    }

    /// Answers the next request (any endpoint) with this error envelope instead of handling it.
    pub fn fail_next(&self, status: u16, code: &str, message: &str) {
        self.fail_next_n(1, status, code, message);
    }

    /// Answers the next `n` requests with this error.
    pub fn fail_next_n(&self, n: usize, status: u16, code: &str, message: &str) {
        let mut q = self
            .state
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for _ in 0..n {
            q.push_back(InjectedError {
                status,
                code: code.to_owned(),
                message: message.to_owned(),
            });
        }
    }

    /// Removes pending injected errors and the response delay.
    pub fn clear(&self) {
        self.state
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.delay_responses(None);
    }
}

/// Middleware applying delays and injected errors.
pub(crate) async fn middleware(
    State(state): State<Arc<FaultState>>,
    req: Request,
    next: Next,
) -> Response {
    let delay = *state.delay.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let injected = state
        .failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop_front();
    if let Some(e) = injected {
        let mut body =
            String::from("{\"status\":\"error\",\"results\":[],\"took\":0.0,\"error\":{\"code\":");
        crate::encode::write_str(&mut body, &e.code);
        body.push_str(",\"message\":");
        crate::encode::write_str(&mut body, &e.message);
        body.push_str("}}");
        let status = axum::http::StatusCode::from_u16(e.status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        return Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|_| Response::new(Body::empty()));
    }
    next.run(req).await
}
