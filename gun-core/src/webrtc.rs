//! WebRTC settings, with the names the original port documented
//! (`gun::webrtc::WebRTCOptions`). The WebRTC transport itself is not built
//! yet: an instance whose options enable it fails to start with
//! [`crate::GunError::WebRTC`], so nothing silently runs without it.

/// A STUN or TURN server, as WebRTC's `RTCIceServer` names its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RTCIceServer {
    /// `stun:host:port` or `turn:host:port` URLs.
    pub urls: Vec<String>,
    /// The TURN user name (empty for STUN).
    pub username: String,
    /// The TURN credential (empty for STUN).
    pub credential: String,
}

/// How the data channel is opened, as WebRTC's `RTCDataChannelInit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RTCDataChannelInit {
    /// Whether messages arrive in order.
    pub ordered: Option<bool>,
    /// How long (ms) a message is retransmitted at most.
    pub max_packet_life_time: Option<u16>,
    /// How many times a message is retransmitted at most.
    pub max_retransmits: Option<u16>,
    /// The subprotocol name.
    pub protocol: Option<String>,
    /// A pre-negotiated channel id.
    pub negotiated: Option<u16>,
}

/// WebRTC settings of a Gun instance.
///
/// The defaults are Gun.js 0.2020.1241's: its two public STUN servers, an
/// unordered channel with at most 2 retransmits, at most 55 connections.
/// `enabled` is `false` by default (the original port defaulted to `true`):
/// the transport is not built yet, and enabling it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRTCOptions {
    /// STUN and TURN servers for NAT traversal.
    pub ice_servers: Vec<RTCIceServer>,
    /// How the data channel is opened.
    pub data_channel: RTCDataChannelInit,
    /// Most WebRTC connections at once.
    pub max_connections: usize,
    /// The room peers meet in (Gun.js: the page's path in a browser).
    pub room: Option<String>,
    /// Whether to open WebRTC connections at all.
    pub enabled: bool,
}

impl Default for WebRTCOptions {
    fn default() -> Self {
        let stun = |url: &str| RTCIceServer {
            urls: vec![url.to_owned()],
            ..RTCIceServer::default()
        };
        Self {
            ice_servers: vec![
                stun("stun:stun.l.google.com:19302"),
                stun("stun:stun.sipgate.net:3478"),
            ],
            data_channel: RTCDataChannelInit {
                ordered: Some(false),
                max_retransmits: Some(2),
                ..RTCDataChannelInit::default()
            },
            max_connections: 55,
            room: None,
            enabled: false,
        }
    }
}
