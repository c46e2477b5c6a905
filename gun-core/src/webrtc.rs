//! WebRTC settings, with the names the original port documented
//! (`gun::webrtc::WebRTCOptions`).
//!
//! With `enabled`, an instance meets the other peers of its room on its
//! relays, as Gun.js's `lib/webrtc.js` does, and syncs with each over a
//! data channel of its own: they keep syncing when the relays are gone.
//! The peers are [`gun_rtc`]'s (str0m), driven by each driver on its
//! runtime ([`crate::transport::rtc`]).

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
/// The defaults are Gun.js 0.2020.1241's (its two public STUN servers, at
/// most 55 connections) but for two:
/// - `enabled` is `false` (the original port defaulted to `true`; Gun.js
///   loads `lib/webrtc.js` only when asked to);
/// - the channel we send on is reliable and ordered, where Gun.js opens an
///   unordered one with at most 2 retransmits ([`gun_rtc::gunjs_channel`]):
///   on a lossy network a message that loses three packets in a row is
///   abandoned, and a write in it never arrives (nothing sends it again;
///   the peer ack it owes is lost with it). Each side chooses only for
///   what it sends: a Gun.js peer's channel is read as it is, and
///   `data_channel` set to Gun.js's values behaves as Gun.js does.
///
/// The ICE servers are not contacted: our peers offer their host address
/// only (one UDP socket, [`WebRTCOptions::bind`]), so they connect to peers
/// that can reach it: on one host, on a LAN, or behind a NAT the other
/// side's STUN found a way through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRTCOptions {
    /// STUN and TURN servers for NAT traversal.
    pub ice_servers: Vec<RTCIceServer>,
    /// How the data channel is opened.
    pub data_channel: RTCDataChannelInit,
    /// Most WebRTC connections at once.
    pub max_connections: usize,
    /// The room peers meet in (Gun.js: the page's path in a browser).
    /// `None` is the room a Gun.js peer in Node joins when given none,
    /// `undefined`.
    pub room: Option<String>,
    /// Whether to open WebRTC connections at all.
    pub enabled: bool,
    /// Where the UDP socket binds (its address is our ICE candidate).
    /// `None`: the address this host reaches others from, any port (the
    /// loopback when it has no route).
    pub bind: Option<std::net::SocketAddr>,
}

/// Most bytes of a room's name.
const MAX_ROOM: usize = 256;

impl WebRTCOptions {
    /// The room's name (`undefined` when none is set, as Gun.js in Node).
    pub fn room_name(&self) -> &str {
        self.room.as_deref().unwrap_or("undefined")
    }

    /// Refuses settings that cannot work.
    pub(crate) fn check(&self) -> crate::GunResult<()> {
        if !self.enabled {
            return Ok(());
        }
        let bad = |m: &str| Err(crate::GunError::WebRTC(m.to_owned()));
        if self.max_connections == 0 {
            return bad("webrtc.max_connections must be at least 1");
        }
        let room = self.room_name();
        if room.is_empty() || room.len() > MAX_ROOM {
            return bad("webrtc.room must be 1 to 256 bytes");
        }
        if self.data_channel.negotiated.is_some() {
            return bad(
                "webrtc.data_channel.negotiated is not supported: Gun.js opens its channel in-band",
            );
        }
        if self.data_channel.max_retransmits.is_some()
            && self.data_channel.max_packet_life_time.is_some()
        {
            return bad(
                "webrtc.data_channel: max_retransmits and max_packet_life_time exclude each other",
            );
        }
        Ok(())
    }
}

impl RTCDataChannelInit {
    /// The channel's configuration: label `dc`, as Gun.js opens it.
    pub(crate) fn to_config(&self) -> gun_rtc::ChannelConfig {
        use gun_rtc::Reliability;
        let reliability = match (self.max_retransmits, self.max_packet_life_time) {
            (Some(n), _) => Reliability::MaxRetransmits { retransmits: n },
            (None, Some(ms)) => Reliability::MaxPacketLifetime { lifetime: ms },
            (None, None) => Reliability::Reliable,
        };
        gun_rtc::ChannelConfig {
            label: "dc".into(),
            ordered: self.ordered.unwrap_or(true),
            reliability,
            protocol: self.protocol.clone().unwrap_or_default(),
            ..gun_rtc::ChannelConfig::default()
        }
    }
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
                ordered: Some(true),
                ..RTCDataChannelInit::default()
            },
            max_connections: 55,
            room: None,
            enabled: false,
            bind: None,
        }
    }
}
