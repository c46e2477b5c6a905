//! Peer URLs: `ws://host:port/path`, with `http://` read as `ws://` as Gun.js does.

use crate::error::GunError;

/// A peer to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port (80 when the URL names none).
    pub port: u16,
    /// Path and query (`/gun` when empty).
    pub path: String,
}

impl PeerUrl {
    /// Reads a peer URL.
    pub fn parse(url: &str) -> Result<Self, GunError> {
        let bad = |why: &str| GunError::UrlParseError(format!("{url}: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme (ws://host:port/gun)"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => {}
            "wss" | "https" => return Err(bad("TLS peers (wss://) are not supported yet")),
            _ => return Err(bad("scheme must be ws:// or http://")),
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad("bad port"))?)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let path = if path.is_empty() { "/gun" } else { path };
        Ok(Self {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// The `ws://` form.
    pub fn ws_url(&self) -> String {
        if self.host.contains(':') {
            format!("ws://[{}]:{}{}", self.host, self.port, self.path)
        } else {
            format!("ws://{}:{}{}", self.host, self.port, self.path)
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
                path: "/gun".into()
            }
        );
        assert_eq!(u.ws_url(), "ws://127.0.0.1:8765/gun");
        assert_eq!(PeerUrl::parse("ws://localhost").expect("url").port, 80);
        assert_eq!(
            PeerUrl::parse("ws://[::1]:9000/x").expect("url").host,
            "::1"
        );
        assert!(matches!(
            PeerUrl::parse("wss://a/gun"),
            Err(GunError::UrlParseError(_))
        ));
        assert!(PeerUrl::parse("localhost:8765").is_err());
        assert!(PeerUrl::parse("ws://:80/").is_err());
    }
}
