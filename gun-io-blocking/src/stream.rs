//! A connection's byte stream, read on one thread and written on another.
//!
//! A connection's thread waits for the peer's bytes while its writer thread
//! sends what the driver queues as soon as it is queued. The socket is read
//! through one handle ([`Stream`], the connection's thread) and written
//! through a shared, locked one ([`WriteHalf`]): each buffer goes out whole
//! under the lock, so the writer's frames and the pongs and close replies
//! tungstenite sends from the reading side never interleave. Over TLS the
//! rustls session is shared too, locked while it decrypts what was read or
//! encrypts what is written (never while the socket is waited on).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The write side of a connection's socket, shared by its two threads. A
/// socket that takes nothing is waited on (its write timeout bounds each
/// wait) until the connection is abandoned, or for [`WriteHalf::stall`] at
/// most: a peer that reads nothing for that long cannot hold either thread.
#[derive(Clone)]
pub(crate) struct WriteHalf {
    tcp: Arc<Mutex<TcpStream>>,
    abandoned: Arc<AtomicBool>,
    stall_ms: Arc<AtomicU64>,
}

/// How long a write may make no progress before the connection is given
/// up, until [`WriteHalf::stall`] says otherwise.
const STALL: Duration = Duration::from_secs(30);

impl WriteHalf {
    fn new(tcp: TcpStream) -> Self {
        Self {
            tcp: Arc::new(Mutex::new(tcp)),
            abandoned: Arc::new(AtomicBool::new(false)),
            stall_ms: Arc::new(AtomicU64::new(STALL.as_millis() as u64)),
        }
    }

    /// Gives up on writes the socket does not take.
    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
    }

    /// How long a write may make no progress before the connection is
    /// given up (the peer's idle timeout, say).
    pub(crate) fn stall(&self, limit: Duration) {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        self.stall_ms.store(ms, Ordering::Release);
    }

    /// Shuts the socket down both ways (a thread waiting on it wakes).
    pub(crate) fn shutdown(&self) {
        let tcp = self.tcp.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = tcp.shutdown(Shutdown::Both);
    }
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut tcp = self.tcp.lock().unwrap_or_else(PoisonError::into_inner);
        let stall = Duration::from_millis(self.stall_ms.load(Ordering::Acquire));
        let mut progress = Instant::now();
        let mut done = 0;
        while done < buf.len() {
            match tcp.write(&buf[done..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    done += n;
                    progress = Instant::now();
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) =>
                {
                    if self.abandoned.load(Ordering::Acquire) {
                        return Err(e);
                    }
                    if progress.elapsed() >= stall {
                        // Every later write fails at once too: the stream
                        // may end in the middle of a frame.
                        self.abandon();
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A connection's stream as its own thread reads it (and writes the
/// little it writes itself): plain TCP, or TLS over it.
pub(crate) enum Stream {
    Plain {
        read: TcpStream,
        write: WriteHalf,
    },
    #[cfg(feature = "tls")]
    Tls {
        read: TcpStream,
        write: WriteHalf,
        tls: Arc<Mutex<rustls::Connection>>,
        /// Bytes read from the socket that the session has not taken yet.
        unread: Vec<u8>,
    },
}

impl Stream {
    /// Plain TCP.
    pub(crate) fn plain(tcp: TcpStream) -> std::io::Result<Self> {
        Ok(Self::Plain {
            write: WriteHalf::new(tcp.try_clone()?),
            read: tcp,
        })
    }

    /// TLS over `tcp`, its handshake made as the stream is first used.
    #[cfg(feature = "tls")]
    pub(crate) fn tls(tcp: TcpStream, session: rustls::Connection) -> std::io::Result<Self> {
        Ok(Self::Tls {
            write: WriteHalf::new(tcp.try_clone()?),
            read: tcp,
            tls: Arc::new(Mutex::new(session)),
            unread: Vec::new(),
        })
    }

    /// The socket (for its timeouts).
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain { read, .. } => read,
            #[cfg(feature = "tls")]
            Self::Tls { read, .. } => read,
        }
    }

    /// The socket's write side.
    pub(crate) fn write_half(&self) -> &WriteHalf {
        match self {
            Self::Plain { write, .. } => write,
            #[cfg(feature = "tls")]
            Self::Tls { write, .. } => write,
        }
    }

    /// What the writer thread writes through.
    pub(crate) fn outbound(&self) -> Outbound {
        match self {
            Self::Plain { write, .. } => Outbound::Plain(write.clone()),
            #[cfg(feature = "tls")]
            Self::Tls { write, tls, .. } => Outbound::Tls {
                write: write.clone(),
                tls: tls.clone(),
            },
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain { read, .. } => read.read(buf),
            #[cfg(feature = "tls")]
            Self::Tls {
                read,
                write,
                tls,
                unread,
            } => tls_read(tls, read, write, unread, buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain { write, .. } => write.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls { write, tls, .. } => tls_write(tls, write, buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The writer thread's side of a connection: never read (tungstenite's
/// WebSocket needs the bound; reading says so).
pub(crate) enum Outbound {
    Plain(WriteHalf),
    #[cfg(feature = "tls")]
    Tls {
        write: WriteHalf,
        tls: Arc<Mutex<rustls::Connection>>,
    },
}

impl Outbound {
    /// The socket's write side.
    pub(crate) fn write_half(&self) -> &WriteHalf {
        match self {
            Self::Plain(write) => write,
            #[cfg(feature = "tls")]
            Self::Tls { write, .. } => write,
        }
    }
}

impl Read for Outbound {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(ErrorKind::Unsupported.into())
    }
}

impl Write for Outbound {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(write) => write.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls { write, tls } => tls_write(tls, write, buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(feature = "tls")]
fn lock(tls: &Mutex<rustls::Connection>) -> std::sync::MutexGuard<'_, rustls::Connection> {
    tls.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends what the session has to send (handshake, encrypted data, alerts).
#[cfg(feature = "tls")]
fn flush_tls(session: &mut rustls::Connection, write: &mut WriteHalf) -> std::io::Result<()> {
    while session.wants_write() {
        session.write_tls(write)?;
    }
    Ok(())
}

/// Encrypts `buf` and sends it, whole.
#[cfg(feature = "tls")]
fn tls_write(
    tls: &Mutex<rustls::Connection>,
    write: &mut WriteHalf,
    buf: &[u8],
) -> std::io::Result<usize> {
    let mut session = lock(tls);
    let mut left = buf;
    while !left.is_empty() {
        let n = session.writer().write(left)?;
        left = &left[n..];
        // Sent as it is taken: the session's buffer empties for the rest.
        flush_tls(&mut session, write)?;
    }
    Ok(buf.len())
}

/// Decrypted bytes into `buf`: what the session holds, else what the
/// socket brings (waiting at most its read timeout, with no lock held).
#[cfg(feature = "tls")]
fn tls_read(
    tls: &Mutex<rustls::Connection>,
    read: &mut TcpStream,
    write: &mut WriteHalf,
    unread: &mut Vec<u8>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut raw = [0u8; 16 * 1024];
    loop {
        {
            let mut session = lock(tls);
            take_unread(&mut session, unread)?;
            flush_tls(&mut session, write)?;
            match session.reader().read(buf) {
                // 0: the peer closed the session.
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if !unread.is_empty() {
                // The session holds all it takes until its plaintext is
                // read, and there is none: it is broken.
                return Err(std::io::Error::new(
                    ErrorKind::InvalidData,
                    "TLS session took no more bytes",
                ));
            }
        }
        let n = read.read(&mut raw)?;
        if n == 0 {
            return Ok(0);
        }
        unread.extend_from_slice(&raw[..n]);
    }
}

/// Feeds the session what was read from the socket, as much as it takes.
#[cfg(feature = "tls")]
fn take_unread(session: &mut rustls::Connection, unread: &mut Vec<u8>) -> std::io::Result<()> {
    let mut data: &[u8] = unread;
    while !data.is_empty() {
        let taken = session.read_tls(&mut data)?;
        session
            .process_new_packets()
            .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
        if taken == 0 {
            break;
        }
    }
    let used = unread.len() - data.len();
    unread.drain(..used);
    Ok(())
}
