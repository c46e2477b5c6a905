//! Gun.js's signalling payloads (`ok.rtc` in replies), read and written as
//! `lib/webrtc.js` (0.2020.1241) sends them: the browser's objects run
//! through `JSON.stringify`.

use serde_json::{Value, json};

/// What one `ok.rtc` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    /// `{"offer": {"type": "offer", "sdp": …}, "id": pid}`.
    Offer(String),
    /// `{"answer": {"type": "answer", "sdp": …}, "id": pid}`.
    Answer(String),
    /// `{"candidate": {"candidate": "candidate:…", …}, "id": pid}`; an
    /// empty one (end of candidates) is `None`.
    Candidate(Option<String>),
}

/// Most bytes of SDP taken from a peer.
const MAX_SDP: usize = 16 * 1024;
/// Most bytes of a candidate line.
const MAX_CANDIDATE: usize = 1024;
/// Most bytes of a pid.
pub(crate) const MAX_PID: usize = 256;

/// Reads `ok.rtc`: who sent it, and what. `None`: not signalling we read
/// (master's `dam:'rtc'` renegotiation, or malformed).
pub(crate) fn read(rtc: &Value) -> Option<(String, Signal)> {
    let pid = rtc
        .get("id")?
        .as_str()
        .filter(|p| !p.is_empty() && p.len() <= MAX_PID)?;
    let sdp = |key: &str| {
        let sdp = rtc.get(key)?.get("sdp")?.as_str()?;
        // Gun.js tolerates line ends escaped once too often.
        (sdp.len() <= MAX_SDP).then(|| sdp.replace("\\r\\n", "\r\n"))
    };
    let signal = if let Some(sdp) = sdp("offer") {
        Signal::Offer(sdp)
    } else if let Some(sdp) = sdp("answer") {
        Signal::Answer(sdp)
    } else if let Some(c) = rtc.get("candidate") {
        let line = c
            .get("candidate")
            .and_then(Value::as_str)
            .map(|l| l.trim().trim_start_matches("a="))
            .filter(|l| !l.is_empty() && l.len() <= MAX_CANDIDATE);
        Signal::Candidate(line.map(str::to_owned))
    } else {
        return None;
    };
    Some((pid.to_owned(), signal))
}

/// Writes `ok.rtc` for `signal`, sent by `pid`.
pub(crate) fn write(pid: &str, signal: &Signal) -> Value {
    match signal {
        Signal::Offer(sdp) => json!({"offer": {"type": "offer", "sdp": sdp}, "id": pid}),
        Signal::Answer(sdp) => json!({"answer": {"type": "answer", "sdp": sdp}, "id": pid}),
        Signal::Candidate(line) => json!({
            "candidate": {
                "candidate": line.as_deref().unwrap_or(""),
                // Chrome's RTCIceCandidate needs one of these two.
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
            "id": pid,
        }),
    }
}

/// The largest message the remote takes, from its SDP's
/// `a=max-message-size` (RFC 8841: 64 KiB when absent; 0 means no limit).
pub(crate) fn max_message_size(sdp: &str) -> usize {
    const DEFAULT: usize = 64 * 1024;
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=max-message-size:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(DEFAULT, |n| if n == 0 { usize::MAX } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_gunjs_sends() {
        let offer = json!({"offer": {"type": "offer", "sdp": "v=0\\r\\nm=application 9"}, "id": "WFEkuM7Wm"});
        assert_eq!(
            read(&offer),
            Some((
                "WFEkuM7Wm".into(),
                Signal::Offer("v=0\r\nm=application 9".into())
            ))
        );
        let cand = json!({"candidate": {"candidate": "candidate:1 1 udp 2122194687 127.0.0.1 39114 typ host generation 0", "sdpMid": "0", "sdpMLineIndex": 0}, "id": "p"});
        assert!(
            matches!(read(&cand), Some((_, Signal::Candidate(Some(l)))) if l.starts_with("candidate:1 "))
        );
        let end = json!({"candidate": {"candidate": ""}, "id": "p"});
        assert_eq!(read(&end), Some(("p".into(), Signal::Candidate(None))));
        assert_eq!(read(&json!({"offer": {}, "id": "p"})), None);
        assert_eq!(read(&json!({"answer": {"sdp": "x"}})), None, "no pid");
        assert_eq!(read(&json!({"candidate": {}, "id": ""})), None);
    }

    #[test]
    fn writes_what_gunjs_reads() {
        let v = write("me", &Signal::Answer("v=0\r\n".into()));
        assert_eq!(v["answer"]["type"], "answer");
        assert_eq!(v["id"], "me");
        assert_eq!(
            read(&v),
            Some(("me".into(), Signal::Answer("v=0\r\n".into())))
        );
        let c = write(
            "me",
            &Signal::Candidate(Some("candidate:1 1 udp 1 127.0.0.1 9 typ host".into())),
        );
        assert_eq!(c["candidate"]["sdpMid"], "0");
    }

    #[test]
    fn max_message_size_from_sdp() {
        assert_eq!(
            max_message_size("v=0\r\na=max-message-size:262144\r\n"),
            262_144
        );
        assert_eq!(max_message_size("v=0\r\n"), 65_536);
        assert_eq!(max_message_size("a=max-message-size:0\r\n"), usize::MAX);
    }
}
