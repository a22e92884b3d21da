//! `/health`, `/v1/api/healthcheck`, `/v1/api/cluster/health` (protocol 2.7).

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{App, is_local, json_value};
use crate::net::ConnMeta;

/// Version reported by the health endpoints (the server snapshot the emulator mirrors).
pub(crate) const VERSION: &str = "0.4.3-rc.4";

pub(super) async fn health(
    State(app): State<App>,
    ConnectInfo(meta): ConnectInfo<ConnMeta>,
    headers: HeaderMap,
) -> Response {
    if !is_local(meta.peer.ip(), &headers) {
        return json_value(
            StatusCode::FORBIDDEN,
            &json!({"error": "Access denied. Health endpoint is localhost-only."}),
        );
    }
    json_value(
        StatusCode::OK,
        &json!({
            "status": "healthy",
            "version": VERSION,
            "api_version": "v1",
            "build_date": crate::time::build_date(app.started_secs),
        }),
    )
}

pub(super) async fn cluster(
    State(app): State<App>,
    ConnectInfo(meta): ConnectInfo<ConnMeta>,
    headers: HeaderMap,
) -> Response {
    if !is_local(meta.peer.ip(), &headers) {
        return json_value(
            StatusCode::FORBIDDEN,
            &json!({"error": "Access denied. Cluster health is localhost-only."}),
        );
    }
    let up = app.started.elapsed().as_secs();
    json_value(
        StatusCode::OK,
        &json!({
            "status": "healthy",
            "version": VERSION,
            "build_date": crate::time::build_date(app.started_secs),
            "is_cluster_mode": false,
            "cluster_id": "kalam-emulator",
            "node_id": 1,
            "is_leader": true,
            "total_groups": 1,
            "groups_leading": 1,
            "current_term": 1,
            "last_applied": null,
            "millis_since_quorum_ack": null,
            "nodes": [{
                "node_id": 1,
                "role": "leader",
                "status": "active",
                "api_addr": format!("127.0.0.1:{}", app.port),
                "is_self": true,
                "is_leader": true,
                "replication_lag": null,
                "catchup_progress_pct": null,
                "hostname": null,
                "memory_usage_mb": null,
                "cpu_usage_percent": null,
                "uptime_seconds": up,
                "uptime_human": format!("{}m", up / 60),
            }],
        }),
    )
}
