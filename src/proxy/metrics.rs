//! Live traffic figures per proxy: counters advance as bytes flow (Toxiproxy only adds them when a
//! link ends).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// Counters of one proxy.
#[derive(Debug, Default)]
pub struct ProxyMetrics {
    /// Connections open now.
    pub active: AtomicU64,
    /// Connections accepted in total.
    pub accepted: AtomicU64,
    /// Upstream dials that failed (the client was closed at once).
    pub failed_dials: AtomicU64,
    /// Bytes read from clients.
    pub upstream_received: AtomicU64,
    /// Bytes written to the upstream.
    pub upstream_sent: AtomicU64,
    /// Bytes read from the upstream.
    pub downstream_received: AtomicU64,
    /// Bytes written to clients.
    pub downstream_sent: AtomicU64,
}

impl ProxyMetrics {
    /// The figures as JSON.
    pub fn to_json(&self) -> Value {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "connections": {"active": get(&self.active), "total": get(&self.accepted), "failed_upstream_dials": get(&self.failed_dials)},
            "bytes": {
                "upstream": {"received": get(&self.upstream_received), "sent": get(&self.upstream_sent)},
                "downstream": {"received": get(&self.downstream_received), "sent": get(&self.downstream_sent)}
            }
        })
    }
}
