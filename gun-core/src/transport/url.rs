//! Peer URLs: `ws://` and `wss://`, with `http://` and `https://` read as
//! `ws://` and `wss://`, as Gun.js reads them.

use crate::error::{Detail, GunError};

/// A peer to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUrl {
    /// Host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// TCP port (80, or 443 with TLS, when the URL names none).
    pub port: u16,
    /// Path and query (`/gun` when the URL has none).
    pub path: String,
    /// Whether the connection is TLS (`wss://`, `https://`).
    pub tls: bool,
}

impl PeerUrl {
    /// Reads a peer URL.
    pub fn parse(text: &str) -> Result<Self, GunError> {
        let bad = |why: &str| GunError::UrlParseError(Detail::new(format!("{text}: {why}")));
        let url = url::Url::parse(text).map_err(|e| {
            GunError::UrlParseError(Detail::with_context(format!("{text}: {e}"), e))
        })?;
        let tls = match url.scheme() {
            "ws" | "http" => false,
            "wss" | "https" => true,
            _ => return Err(bad("the scheme must be ws://, wss://, http:// or https://")),
        };
        let host = match url.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            _ => return Err(bad("no host")),
        };
        let port = url.port().unwrap_or(if tls { 443 } else { 80 });
        let mut path = match url.path() {
            "" | "/" => "/gun".to_owned(),
            p => p.to_owned(),
        };
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(Self {
            host,
            port,
            path,
            tls,
        })
    }

    /// The `ws://` (or `wss://`) form.
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            format!("{scheme}://{}:{}{}", self.host, self.port, self.path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gunjs_style_urls() {
        let u = PeerUrl::parse("http://127.0.0.1:8765/gun").expect("url");
        assert_eq!(
            u,
            PeerUrl {
                host: "127.0.0.1".into(),
                port: 8765,
                path: "/gun".into(),
                tls: false,
            }
        );
        assert_eq!(u.ws_url(), "ws://127.0.0.1:8765/gun");
        assert_eq!(PeerUrl::parse("ws://localhost").expect("url").port, 80);
        assert_eq!(PeerUrl::parse("ws://localhost").expect("url").path, "/gun");
        assert_eq!(
            PeerUrl::parse("ws://[::1]:9000/x").expect("url").ws_url(),
            "ws://[::1]:9000/x"
        );
        let s = PeerUrl::parse("https://relay.example.com/gun?x=1").expect("url");
        assert!(s.tls);
        assert_eq!((s.port, s.path.as_str()), (443, "/gun?x=1"));
        assert_eq!(s.ws_url(), "wss://relay.example.com:443/gun?x=1");
        assert!(PeerUrl::parse("wss://a:9/gun").expect("url").tls);
        let e = PeerUrl::parse("localhost:8765").expect_err("no scheme");
        assert!(matches!(e, GunError::UrlParseError(_)), "{e}");
        assert!(PeerUrl::parse("ws://:80/").is_err());
        assert!(PeerUrl::parse("ftp://a/").is_err());
        let e = PeerUrl::parse("ws://a:99999/").expect_err("bad port");
        assert!(
            std::error::Error::source(&e)
                .is_some_and(|s| s.downcast_ref::<url::ParseError>().is_some())
        );
    }
}
