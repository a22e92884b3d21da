//! Cluster health and several node URLs with failover (feature `cluster`, protocol 2.7).
//!
//! A client built with [`KalamClientBuilder::base_urls`] sends every HTTP request to one
//! node, the node in use. When that node refuses the connection or answers 502/503/504, the
//! request goes to the next node, which stays in use from then on. A new live WebSocket
//! (first subscribe, or a reconnect) probes the node in use first and moves on when it is
//! unreachable, so live subscriptions resume on a working node.

use serde::{Deserialize, Serialize};

use crate::client::{KalamClient, KalamClientBuilder};
use crate::error::Result;

/// `GET /v1/api/cluster/health` body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ClusterHealth {
    /// Overall state.
    pub status: ClusterStatus,
    /// Server version.
    #[serde(default)]
    pub version: String,
    /// Build date (`YYYY-MM-DD HH:MM:SS UTC`).
    #[serde(default)]
    pub build_date: Option<String>,
    /// True when the server runs with a `[cluster]` configuration.
    #[serde(default)]
    pub is_cluster_mode: bool,
    /// The cluster's id.
    #[serde(default)]
    pub cluster_id: String,
    /// This node's id.
    #[serde(default)]
    pub node_id: u64,
    /// Whether this node leads.
    #[serde(default)]
    pub is_leader: bool,
    /// Raft groups in total.
    #[serde(default)]
    pub total_groups: u64,
    /// Raft groups this node leads.
    #[serde(default)]
    pub groups_leading: u64,
    /// Current Raft term.
    #[serde(default)]
    pub current_term: u64,
    /// Last applied log index, when known.
    #[serde(default)]
    pub last_applied: Option<u64>,
    /// Milliseconds since the last quorum acknowledgement, when known.
    #[serde(default)]
    pub millis_since_quorum_ack: Option<u64>,
    /// The cluster's nodes.
    #[serde(default)]
    pub nodes: Vec<ClusterNode>,
}

impl ClusterHealth {
    /// The node that leads, if the answer names one.
    pub fn leader(&self) -> Option<&ClusterNode> {
        self.nodes.iter().find(|n| n.is_leader)
    }
}

/// `healthy`, `degraded` or `unhealthy`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ClusterStatus {
    /// Every node is fine (always the case for a standalone server).
    Healthy,
    /// Some nodes are missing or lagging.
    Degraded,
    /// The cluster cannot serve.
    Unhealthy,
    /// A state this client does not know.
    #[serde(other)]
    Unknown,
}

/// One node of [`ClusterHealth::nodes`]; the optional fields come as `null`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ClusterNode {
    /// Node id.
    pub node_id: u64,
    /// `leader`, `follower`, `learner`, …
    #[serde(default)]
    pub role: String,
    /// `active`, `offline`, …
    #[serde(default)]
    pub status: String,
    /// The node's API address (`host:port`).
    #[serde(default)]
    pub api_addr: String,
    /// Whether this is the node that answered.
    #[serde(default)]
    pub is_self: bool,
    /// Whether this node leads.
    #[serde(default)]
    pub is_leader: bool,
    /// Replication lag in log entries.
    #[serde(default)]
    pub replication_lag: Option<u64>,
    /// Catch-up progress of a new node.
    #[serde(default)]
    pub catchup_progress_pct: Option<f64>,
    /// Host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Resident memory.
    #[serde(default)]
    pub memory_usage_mb: Option<f64>,
    /// CPU use.
    #[serde(default)]
    pub cpu_usage_percent: Option<f64>,
    /// Uptime in seconds.
    #[serde(default)]
    pub uptime_seconds: Option<u64>,
    /// Uptime for people (`2m`).
    #[serde(default)]
    pub uptime_human: Option<String>,
}

impl KalamClientBuilder {
    /// Several nodes of one cluster: requests go to the first, and move to the next node
    /// when the one in use becomes unreachable (see the [module docs](crate::cluster)).
    /// Replaces [`base_url`](KalamClientBuilder::base_url).
    ///
    /// ```
    /// use kalam_client::KalamClient;
    /// let client = KalamClient::builder()
    ///     .base_urls(["http://10.0.0.1:2900", "http://10.0.0.2:2900/"])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(client.base_url(), "http://10.0.0.1:2900");
    /// assert_eq!(client.node_urls(), ["http://10.0.0.1:2900", "http://10.0.0.2:2900"]);
    /// ```
    pub fn base_urls<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.base_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Same as [`base_urls`](KalamClientBuilder::base_urls).
    pub fn nodes<I, S>(self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.base_urls(urls)
    }
}

impl KalamClient {
    /// Every configured node URL, in order.
    pub fn node_urls(&self) -> &[String] {
        self.inner.base.all()
    }

    /// `GET /v1/api/cluster/health` on the node in use (localhost clients only). A
    /// standalone server answers `healthy` with itself as the only node.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let emulator = kalam_emulator::Emulator::start().await?;
    /// use kalam_client::cluster::ClusterStatus;
    /// let client = kalam_client::KalamClient::builder().base_url(emulator.url()).build()?;
    /// let health = client.cluster_health().await?;
    /// assert_eq!(health.status, ClusterStatus::Healthy);
    /// assert!(health.leader().is_some_and(|n| n.is_self));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn cluster_health(&self) -> Result<ClusterHealth> {
        self.inner
            .call_json(false, "cluster health", |base| {
                self.inner.http.get(format!("{base}/v1/api/cluster/health"))
            })
            .await
    }

    /// The official SDK's name for [`KalamClient::cluster_health`].
    pub async fn cluster_health_check(&self) -> Result<ClusterHealth> {
        self.cluster_health().await
    }
}
