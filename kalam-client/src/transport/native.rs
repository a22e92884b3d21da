//! The native transport: tokio and tokio-tungstenite.

use std::future::Future;
use std::time::Duration;

#[cfg(feature = "healthcheck")]
pub(crate) use std::time::Instant;
pub(crate) use tokio::time::sleep;
pub(crate) use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::error::Result;

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
        Self(tokio::time::interval_at(start, period))
    }

    pub(crate) async fn tick(&mut self) {
        self.0.tick().await;
    }
}

/// The live socket.
pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `url` with the JWT in the upgrade's `Authorization` header (protocol 3.2 A): the server
/// then sends `auth_success` unprompted.
pub(crate) async fn connect(url: &str, token: &str) -> Result<Socket> {
    let mut request = url
        .into_client_request()
        .map_err(|e| super::ws_error("request", e))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|e| super::ws_error("header", e))?;
    request.headers_mut().insert("authorization", bearer);
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| super::ws_error("connect", e))?;
    Ok(socket)
}
