//! The native transport: tokio and tokio-tungstenite.

use std::future::Future;
use std::time::Duration;

#[cfg(feature = "healthcheck")]
pub(crate) use std::time::Instant;
pub(crate) use tokio::time::sleep;
pub(crate) use tokio_tungstenite::tungstenite::Message;
/// A future boxed for storing or returning: `Send`, as tokio's tasks need.
pub(crate) type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The wall clock.
pub(crate) fn system_now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

/// Whether the request failed to connect.
pub(crate) fn is_connect(e: &reqwest::Error) -> bool {
    e.is_connect()
}

/// Closes the socket with a Close frame.
pub(crate) async fn close(socket: &mut Socket) {
    // The socket is being dropped: a failure to say goodbye changes nothing.
    let _ = socket.close(None).await;
}

/// Whether the socket can send Ping frames, whose Pongs prove the connection alive.
pub(crate) const PONGS: bool = true;

/// A response body, read chunk by chunk as it arrives.
pub(crate) type Body = reqwest::Response;

/// Runs `fut` on the current tokio runtime.
pub(crate) fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(fut);
}

/// `fut`'s output, or [`Elapsed`](super::Elapsed) once `after` has passed.
pub(crate) async fn timeout<F: Future>(
    after: Duration,
    fut: F,
) -> std::result::Result<F::Output, super::Elapsed> {
    tokio::time::timeout(after, fut)
        .await
        .map_err(|_| super::Elapsed)
}

/// Ticks every `period`, the first tick one period from now.
pub(crate) struct Interval(tokio::time::Interval);

impl Interval {
    pub(crate) fn new(period: Duration) -> Self {
        let start = tokio::time::Instant::now() + period;
        let mut interval = tokio::time::interval_at(start, period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self(interval)
    }

    pub(crate) async fn tick(&mut self) {
        self.0.tick().await;
    }
}

/// The live socket, on the connection the client's HTTP stack upgraded.
pub(crate) type Socket = tokio_tungstenite::WebSocketStream<reqwest::Upgraded>;
