//! The relay's HTTP side: on its WebSocket port, `GET /health` and
//! `GET /metrics` (Prometheus) are answered; a WebSocket upgrade goes on to
//! the WebSocket handshake with the bytes already read.
//!
//! A transport reads the request head into a [`Head`] (bounded: 8 KiB, and
//! the handshake timeout), then either answers it or replays its bytes to
//! the WebSocket handshake.

use super::Shared;

/// Longest request head read.
pub const MAX_HEAD: usize = 8 * 1024;

/// What a request head asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A WebSocket upgrade: hand the bytes read so far to the handshake.
    Upgrade,
    /// A plain HTTP request for this path.
    Get(String),
    /// Not HTTP, or a head too large.
    Bad,
}

/// A request head being read.
#[derive(Debug, Default)]
pub struct Head {
    buf: Vec<u8>,
}

impl Head {
    /// An empty head.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the socket; the request once the head is whole.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<Request> {
        self.buf.extend_from_slice(bytes);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&self.buf) {
            Ok(httparse::Status::Complete(_)) => {
                let upgrade = req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("upgrade")
                        && String::from_utf8_lossy(h.value)
                            .to_ascii_lowercase()
                            .contains("websocket")
                });
                Some(if upgrade {
                    Request::Upgrade
                } else {
                    Request::Get(req.path.unwrap_or("/").to_owned())
                })
            }
            Ok(httparse::Status::Partial) if self.buf.len() < MAX_HEAD => None,
            _ => Some(Request::Bad),
        }
    }

    /// The bytes read so far (to replay to the WebSocket handshake).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// An HTTP response, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The whole response: status line, headers, body.
    pub bytes: Vec<u8>,
}

impl Response {
    fn new(status: u16, reason: &str, content_type: &str, body: &str) -> Self {
        let bytes = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes();
        Self { status, bytes }
    }

    /// `400 Bad Request`, for what is not an HTTP request.
    pub fn bad_request() -> Self {
        Self::new(400, "Bad Request", "text/plain", "bad request\n")
    }
}

/// The answer to `GET path`.
pub(crate) fn answer(path: &str, shared: &Shared) -> Response {
    let path = path.split('?').next().unwrap_or(path);
    match path {
        "/health" => {
            let status = if shared.stopping() { 503 } else { 200 };
            let reason = if status == 200 {
                "OK"
            } else {
                "Service Unavailable"
            };
            Response::new(
                status,
                reason,
                "application/json",
                &shared.metrics.health(shared.stopping()),
            )
        }
        "/metrics" => Response::new(
            200,
            "OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            &shared.metrics.text(),
        ),
        _ => Response::new(
            404,
            "Not Found",
            "text/plain",
            "not found: this is a Gun relay (WebSocket on any path; /health, /metrics)\n",
        ),
    }
}

/// Bytes read ahead (the request head) that a socket wrapper hands out
/// before the socket's own: what each driver's rewinding stream holds.
#[derive(Debug, Default)]
pub struct Replay {
    bytes: Vec<u8>,
    at: usize,
}

impl Replay {
    /// Bytes to hand out first.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, at: 0 }
    }

    /// Copies what is left into `buf`; how many bytes (0: none left).
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let left = &self.bytes[self.at..];
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        self.at += n;
        if self.at == self.bytes.len() {
            self.bytes = Vec::new();
            self.at = 0;
        }
        n
    }

    /// Whether every byte was handed out.
    pub fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_upgrades_from_plain_gets() {
        let mut h = Head::new();
        assert_eq!(h.feed(b"GET /gun HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(
            h.feed(b"Upgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n"),
            Some(Request::Upgrade)
        );
        let mut h = Head::new();
        assert_eq!(
            h.feed(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Request::Get("/metrics".into()))
        );
        assert_eq!(
            Head::new().feed(b"\x16\x03\x01garbage\r\n\r\n"),
            Some(Request::Bad)
        );
        let mut h = Head::new();
        let huge = vec![b'a'; MAX_HEAD + 10];
        assert_eq!(h.feed(b"GET / HTTP/1.1\r\nX: "), None);
        assert_eq!(h.feed(&huge), Some(Request::Bad));
    }

    #[test]
    fn replays_then_runs_dry() {
        let mut r = Replay::new(b"abcdef".to_vec());
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf), 4);
        assert_eq!(&buf, b"abcd");
        assert_eq!(r.read(&mut buf), 2);
        assert!(r.is_empty());
        assert_eq!(r.read(&mut buf), 0);
    }

    #[test]
    fn answers_health_and_metrics() {
        let shared = Shared::new(crate::Quotas::default());
        let h = answer("/health", &shared);
        assert_eq!(h.status, 200);
        assert!(String::from_utf8_lossy(&h.bytes).contains("\"ok\""));
        let m = answer("/metrics?x=1", &shared);
        assert!(String::from_utf8_lossy(&m.bytes).contains("gun_connections"));
        assert_eq!(answer("/nope", &shared).status, 404);
    }
}
