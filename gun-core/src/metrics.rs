//! What a relay tells operators: Prometheus metrics (`/metrics`) and
//! health (`/health`), kept by the driver and the transports.

use std::sync::atomic::{AtomicU64, Ordering};

use gun_proto::{Refusal, Stats};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// Why the relay dropped a connection (counted in `gun_peers_dropped_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dropped {
    /// Its outbound queue passed `max_outbound_per_peer`: it stopped reading.
    SlowReader,
    /// The queues of all peers passed their ceiling; it had the most waiting.
    Memory,
    /// It sent nothing for `idle_timeout`.
    Idle,
    /// It sent a frame larger than `max_frame_bytes`.
    FrameTooBig,
}

impl Dropped {
    /// The reason as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SlowReader => "slow_reader",
            Self::Memory => "memory",
            Self::Idle => "idle",
            Self::FrameTooBig => "frame_too_big",
        }
    }

    /// The WebSocket close code and reason sent to the peer.
    pub fn close_frame(self) -> (u16, &'static str) {
        match self {
            Self::SlowReader => (1008, "slow reader: too much waiting to be sent"),
            Self::Memory => (1013, "relay memory full: try again later"),
            Self::Idle => (1001, "idle: nothing received for the idle timeout"),
            Self::FrameTooBig => (1009, "frame over the relay's limit"),
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Self::SlowReader => 1,
            Self::Memory => 2,
            Self::Idle => 3,
            Self::FrameTooBig => 4,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::SlowReader),
            2 => Some(Self::Memory),
            3 => Some(Self::Idle),
            4 => Some(Self::FrameTooBig),
            _ => None,
        }
    }
}

/// The counters and gauges of one instance.
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) connections: Gauge,
    pub(crate) refused_connections: Family<Labels, Counter>,
    pub(crate) frames_in: Counter,
    pub(crate) bytes_in: Counter,
    pub(crate) frames_out: Counter,
    pub(crate) bytes_out: Counter,
    pub(crate) queued_in: Gauge,
    pub(crate) queued_out: Gauge,
    pub(crate) dropped: Family<Labels, Counter>,
    pub(crate) commit_seconds: Histogram,
    messages_in: Counter,
    puts_acked: Counter,
    refused: Family<Labels, Counter>,
    logs_suppressed: Counter,
    /// The engine's counts when they were last published.
    published: std::sync::Mutex<Stats>,
    started: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gun");
        let m = Self {
            connections: Gauge::default(),
            refused_connections: Family::default(),
            frames_in: Counter::default(),
            bytes_in: Counter::default(),
            frames_out: Counter::default(),
            bytes_out: Counter::default(),
            queued_in: Gauge::default(),
            queued_out: Gauge::default(),
            dropped: Family::default(),
            // 50 µs .. ~1.6 s
            commit_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            messages_in: Counter::default(),
            puts_acked: Counter::default(),
            refused: Family::default(),
            logs_suppressed: Counter::default(),
            published: std::sync::Mutex::new(Stats::default()),
            started: AtomicU64::new(0),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register("connections", "Peers connected now", m.connections.clone());
        r.register(
            "connections_refused",
            "Connections closed on arrival, by the limit they were over",
            m.refused_connections.clone(),
        );
        r.register(
            "frames_in",
            "WebSocket text frames received",
            m.frames_in.clone(),
        );
        r.register("bytes_in", "Bytes of frames received", m.bytes_in.clone());
        r.register(
            "frames_out",
            "WebSocket text frames sent",
            m.frames_out.clone(),
        );
        r.register("bytes_out", "Bytes of frames sent", m.bytes_out.clone());
        r.register(
            "queued_in_bytes",
            "Bytes of received frames waiting for the driver",
            m.queued_in.clone(),
        );
        r.register(
            "queued_out_bytes",
            "Bytes of frames waiting to be sent",
            m.queued_out.clone(),
        );
        r.register(
            "peers_dropped",
            "Connections the relay closed, by reason",
            m.dropped.clone(),
        );
        r.register(
            "store_commit_seconds",
            "Time the store took to write and flush one batch",
            m.commit_seconds.clone(),
        );
        r.register(
            "messages_in",
            "Messages taken from peers",
            m.messages_in.clone(),
        );
        r.register(
            "puts_acked",
            "Peers' puts acked once stored",
            m.puts_acked.clone(),
        );
        r.register(
            "refused",
            "Things peers sent that were refused, by reason",
            m.refused.clone(),
        );
        r.register(
            "log_lines_suppressed",
            "Refusals not logged because their peer's log budget was spent",
            m.logs_suppressed.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// A connection was refused on arrival for `reason`.
    pub(crate) fn refuse_connection(&self, reason: &'static str) {
        self.refused_connections
            .get_or_create(&vec![("reason", reason)])
            .inc();
    }

    /// A peer was dropped for `why`.
    pub(crate) fn drop_peer(&self, why: Dropped) {
        self.dropped
            .get_or_create(&vec![("reason", why.as_str())])
            .inc();
    }

    /// Publishes what the engine counted since the last call.
    pub(crate) fn publish(&self, now: &Stats) {
        let mut last = self
            .published
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.messages_in
            .inc_by(now.messages_in.saturating_sub(last.messages_in));
        self.puts_acked
            .inc_by(now.puts_acked.saturating_sub(last.puts_acked));
        self.logs_suppressed
            .inc_by(now.logs_suppressed.saturating_sub(last.logs_suppressed));
        for why in Refusal::ALL {
            let n = now.refused(why).saturating_sub(last.refused(why));
            if n > 0 {
                self.refused
                    .get_or_create(&vec![("reason", why.as_str())])
                    .inc_by(n);
            }
        }
        *last = now.clone();
    }

    /// Marks the instance as started (for `/health`'s uptime).
    pub(crate) fn started(&self, unix_secs: u64) {
        self.started.store(unix_secs, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// `/health`: a small JSON document.
    pub(crate) fn health(&self, stopping: bool) -> String {
        format!(
            "{{\"status\":\"{}\",\"connections\":{},\"started\":{}}}\n",
            if stopping { "stopping" } else { "ok" },
            self.connections.get(),
            self.started.load(Ordering::Relaxed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_engine_counts_once() {
        let m = Metrics::default();
        let mut s = Stats::default();
        s.puts_acked = 3;
        m.publish(&s);
        m.publish(&s);
        m.drop_peer(Dropped::SlowReader);
        let text = m.text();
        assert!(text.contains("gun_puts_acked_total 3"), "{text}");
        assert!(
            text.contains(r#"gun_peers_dropped_total{reason="slow_reader"} 1"#),
            "{text}"
        );
        assert!(m.health(false).contains("\"ok\""));
    }
}
