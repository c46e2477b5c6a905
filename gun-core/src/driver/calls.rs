//! The calls of API handles on the driver thread: each command becomes an
//! engine call, and its answer (a put's, a set's, a once's) or its listener
//! waits here until the engine's events settle it.

use gun_proto::{Call, Event, Input, ReqId};
use tracing::{debug, warn};

use super::Driver;
use super::command::{Command, Settle};
use crate::completion::Completer;
use crate::error::GunError;
use crate::transport::rtc::RtcWake;

/// A put or set waiting for its answer.
pub(super) struct Pending {
    pub(super) settle: Settle,
    pub(super) done: Done,
}

pub(super) enum Done {
    Put(Completer<()>),
    Set(Completer<String>, Option<String>),
}

impl Done {
    pub(super) fn complete(self, result: Result<(), gun_proto::PutFailure>) {
        match self {
            Self::Put(done) => done.complete(result.map_err(GunError::from)),
            Self::Set(done, soul) => done.complete(
                result
                    .map_err(GunError::from)
                    .map(|()| soul.unwrap_or_default()),
            ),
        }
    }
}

impl Driver {
    /// Carries out a command of an API handle: its engine call, and its
    /// answer kept until the engine settles it (`None`), or the shutdown's
    /// completer.
    pub(super) fn command(&mut self, cmd: Command) -> Option<Completer<()>> {
        match cmd {
            Command::Put {
                path,
                data,
                state,
                cert,
                settle,
                done,
            } => {
                let req = self.req();
                let call = match (state, cert) {
                    (_, Some(cert)) => Call::PutCertified {
                        req,
                        path,
                        data,
                        cert,
                    },
                    (Some(state), None) => Call::PutAt {
                        req,
                        path,
                        data,
                        state,
                    },
                    (None, None) => Call::Put { req, path, data },
                };
                match self.input(Input::Call(call)) {
                    Ok(()) => {
                        let done = Done::Put(done);
                        self.puts.insert(req, Pending { settle, done });
                    }
                    Err(e) => done.complete(Err(e)),
                }
            }
            Command::User(pair) => {
                let _ = self.input(Input::Call(Call::User(pair)));
            }
            Command::Set {
                path,
                data,
                settle,
                done,
            } => {
                let req = self.req();
                // Registered first: the engine names the soul while handling the call.
                let done = Done::Set(done, None);
                self.puts.insert(req, Pending { settle, done });
                if let Err(e) = self.input(Input::Call(Call::Set { req, path, data }))
                    && let Some(Pending {
                        done: Done::Set(done, _),
                        ..
                    }) = self.puts.remove(&req)
                {
                    done.complete(Err(e));
                }
            }
            Command::Once {
                path,
                keys,
                wait,
                done,
            } => {
                let req = self.req();
                self.onces.insert(req, done);
                let call = match keys {
                    Some(keys) => Call::OnceKeys {
                        req,
                        path,
                        keys,
                        wait,
                    },
                    None => Call::Once { req, path, wait },
                };
                if let Err(e) = self.input(Input::Call(call))
                    && let Some(done) = self.onces.remove(&req)
                {
                    done.complete(Err(e));
                }
            }
            Command::Listen { sub, path, map, cb } => {
                self.listeners.insert(sub, cb);
                let at = std::iter::once(path.soul.clone())
                    .chain(path.keys.iter().cloned())
                    .collect();
                self.listeners_at.entry(at).or_default().push(sub);
                let call = if map {
                    Call::Map { sub, path }
                } else {
                    Call::On { sub, path }
                };
                if let Err(e) = self.input(Input::Call(call)) {
                    warn!(error = %e, "listener refused");
                    self.listeners.remove(&sub);
                }
            }
            Command::Off { at } => {
                for sub in self.listeners_at.remove(&at).unwrap_or_default() {
                    self.listeners.remove(&sub);
                    let _ = self.input(Input::Call(Call::Off { sub }));
                }
            }
            Command::WaitConnected { deadline, done } => {
                if self.links.is_empty() {
                    self.conn_waiters.push((deadline, done));
                } else {
                    done.complete(Ok(true));
                }
            }
            Command::RtcAttach { sink, room, max } => {
                self.rtc = Some(sink);
                let _ = self.input(Input::Call(Call::RtcJoin { room, max }));
            }
            Command::RtcSignal { via, reply_to, rtc } => {
                let _ = self.input(Input::Call(Call::RtcSignal { via, reply_to, rtc }));
            }
            Command::Shutdown { done } => return Some(done),
        }
        None
    }

    /// Carries out an engine event: answers, listener updates, signalling.
    pub(super) fn event(&mut self, ev: Event) {
        match ev {
            Event::PutAck { req, result } => self.settle(req, Settle::Local, result),
            Event::PutPeerAck { req, result } => self.settle(req, Settle::Peer, result),
            Event::SetSoul { req, soul } => {
                if let Some(Pending {
                    done: Done::Set(_, slot),
                    ..
                }) = self.puts.get_mut(&req)
                {
                    *slot = Some(soul);
                }
            }
            Event::Once { req, value, key } => {
                if let Some(done) = self.onces.remove(&req) {
                    done.complete(Ok((value, key)));
                }
            }
            Event::Update { sub, value, key } => {
                if let Some(cb) = self.listeners.get(&sub).cloned() {
                    self.dispatch(move || cb(value, Some(key)));
                }
            }
            Event::PeerGreeted { peer, pid } => debug!(?peer, pid, "peer greeted"),
            Event::RtcAnnounced {
                via, pid, reply_to, ..
            } => self.hand_rtc(RtcWake::Announced { via, pid, reply_to }),
            Event::RtcSignal { via, reply_to, rtc } => {
                self.hand_rtc(RtcWake::Signalled { via, reply_to, rtc });
            }
        }
    }

    /// Answers the put `req` if it waits for this kind of answer.
    fn settle(&mut self, req: ReqId, how: Settle, result: Result<(), gun_proto::PutFailure>) {
        if self.puts.get(&req).is_some_and(|p| p.settle == how)
            && let Some(p) = self.puts.remove(&req)
        {
            p.done.complete(result);
        }
    }
}
