//! Observable state of a client's shared WebSocket: [`KalamClient::connection_events`] and
//! [`KalamClient::connection_state`].

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::sync::{broadcast, watch};

use crate::client::KalamClient;

/// The state of a client's shared live-query WebSocket.
///
/// ```
/// use kalam_client::live::ConnectionState;
/// let s = ConnectionState::Reconnecting { attempt: 2, delay: std::time::Duration::from_secs(2) };
/// assert!(!s.is_connected());
/// assert!(ConnectionState::Connected.is_connected());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// No socket: nothing subscribed yet, or the last subscription was dropped.
    Idle,
    /// Opening the first socket.
    Connecting,
    /// The socket is open and authenticated.
    Connected,
    /// The socket was lost; reconnecting follows while subscriptions exist.
    Disconnected {
        /// What happened.
        reason: String,
    },
    /// Waiting `delay` before reconnect attempt `attempt` (1-based; the first is immediate).
    Reconnecting {
        /// Attempt number.
        attempt: u32,
        /// Backoff before this attempt (exponential, with jitter).
        delay: Duration,
    },
    /// After a reconnect, every subscription was sent again.
    Resubscribed {
        /// How many subscriptions were resumed.
        subscriptions: usize,
    },
}

impl ConnectionState {
    /// True for [`ConnectionState::Connected`] and [`ConnectionState::Resubscribed`].
    pub fn is_connected(&self) -> bool {
        matches!(
            self,
            ConnectionState::Connected | ConnectionState::Resubscribed { .. }
        )
    }
}

/// Where a client's connection task reports its state.
#[derive(Debug)]
pub(crate) struct StateTx {
    events: broadcast::Sender<ConnectionState>,
    current: watch::Sender<ConnectionState>,
}

impl Default for StateTx {
    fn default() -> Self {
        StateTx {
            events: broadcast::channel(256).0,
            current: watch::channel(ConnectionState::Idle).0,
        }
    }
}

impl StateTx {
    pub(crate) fn set(&self, state: ConnectionState) {
        tracing::debug!(?state, "live connection state");
        self.current.send_replace(state.clone());
        // No receiver is fine: nobody is watching.
        let _ = self.events.send(state);
    }
}

/// Every state change of a client's WebSocket from the moment of the call, as a [`Stream`]
/// (a slow reader that falls more than 256 changes behind skips the oldest ones).
#[must_use = "streams do nothing unless polled"]
pub struct ConnectionEvents {
    inner: BoxStream<'static, ConnectionState>,
}

impl std::fmt::Debug for ConnectionEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionEvents").finish_non_exhaustive()
    }
}

impl Stream for ConnectionEvents {
    type Item = ConnectionState;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ConnectionState>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl KalamClient {
    /// Connection state changes of the shared live-query WebSocket (connect, disconnect,
    /// reconnect attempts with their backoff, resubscribe). The stream never ends while the
    /// client lives.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use futures_util::StreamExt;
    /// use kalam_client::{AuthProvider, KalamClient, live::ConnectionState};
    /// let client = KalamClient::builder()
    ///     .base_url(emulator.url())
    ///     .auth(AuthProvider::basic_auth("admin", "AdminPass123!"))
    ///     .build()?;
    /// let mut states = client.connection_events();
    /// kalam_client::query("CREATE NAMESPACE IF NOT EXISTS doc").execute(&client).await?;
    /// kalam_client::query("CREATE SHARED TABLE doc.pings (id BIGINT PRIMARY KEY)").execute(&client).await?;
    /// let _events = client.live_events("SELECT * FROM doc.pings").await?;
    /// assert_eq!(states.next().await, Some(ConnectionState::Connecting));
    /// assert_eq!(states.next().await, Some(ConnectionState::Connected));
    /// assert!(client.connection_state().is_connected());
    /// # Ok(())
    /// # }
    /// ```
    pub fn connection_events(&self) -> ConnectionEvents {
        let rx = super::connection::state_of(self).events.subscribe();
        let inner = futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(state) => return Some((state, rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        ConnectionEvents {
            inner: Box::pin(inner),
        }
    }

    /// The current state of the shared live-query WebSocket.
    pub fn connection_state(&self) -> ConnectionState {
        super::connection::state_of(self).current.borrow().clone()
    }
}
