//! A TCP proxy that every peer connection of a chaos cluster goes through.
//!
//! There is one listener per ordered pair of validators: validator `i`
//! dials validator `j` at [`Proxy::addr`]`(i, j)`, which forwards to `j`'s
//! real p2p port. The link between `i` and `j` is both listeners, `(i, j)`
//! and `(j, i)`, and every fault acts on a link:
//!
//! - **cut**: live connections are closed and new ones are accepted and
//!   closed at once, until the link is healed;
//! - **delay**: every chunk read is written out `delay` later (a delay
//!   line, so throughput is kept and order is preserved);
//! - **drop**: the next chunk read on the link is discarded, which breaks
//!   the encrypted session above it, so the nodes must notice and redial.
//!
//! The proxy runs on its own small tokio runtime; its methods are plain
//! blocking calls for the thread that schedules faults.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// Bytes read per chunk.
const CHUNK_BYTES: usize = 64 * 1024;
/// Bytes one direction of a connection may hold in its delay line before
/// it stops reading (back-pressure).
const MAX_DELAYED_BYTES: usize = 8 * 1024 * 1024;
/// How long the proxy waits to reach a target.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Listeners bound at most per pair before giving up on a port outside the
/// range to avoid.
const BIND_ATTEMPTS: usize = 64;
/// The longest delay a link may be given.
pub const MAX_DELAY_MS: u64 = 10_000;

/// What one listener does to its traffic right now.
#[derive(Debug, Clone, Copy, Default)]
struct LinkState {
    cut: bool,
    delay_ms: u64,
}

/// One listener: `from` dials `to` through it.
#[derive(Debug)]
struct Pipe {
    from: usize,
    to: usize,
    listen: SocketAddr,
    target: SocketAddr,
    state: Mutex<LinkState>,
    /// Chunks still to be dropped.
    drops_pending: AtomicU32,
    /// Bumped on every cut: live connections watch it and close.
    cuts: watch::Sender<u64>,
    stats: PipeStats,
}

#[derive(Debug, Default)]
struct PipeStats {
    accepted: AtomicU64,
    refused: AtomicU64,
    closed_by_cut: AtomicU64,
    chunks_dropped: AtomicU64,
    bytes: AtomicU64,
}

impl Pipe {
    fn state(&self) -> LinkState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut LinkState)) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s);
    }

    /// Takes one pending drop, if any.
    fn take_drop(&self) -> bool {
        self.drops_pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
            .is_ok()
    }
}

/// Totals over every listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProxyStats {
    /// Connections forwarded.
    pub accepted: u64,
    /// Connections closed on arrival because their link was cut.
    pub refused: u64,
    /// Live connections closed by a cut.
    pub closed_by_cut: u64,
    /// Chunks discarded by drop faults.
    pub chunks_dropped: u64,
    /// Bytes forwarded.
    pub bytes: u64,
}

/// The proxy of one cluster: `n * (n - 1)` listeners on 127.0.0.1.
#[derive(Debug)]
pub struct Proxy {
    n: usize,
    /// Indexed by `from * n + to`; `None` on the diagonal.
    pipes: Vec<Option<Arc<Pipe>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// Starts one listener per ordered pair of `targets` (the validators'
    /// real p2p addresses), on ports of 127.0.0.1 outside `avoid` (the
    /// ports the cluster's nodes will bind).
    pub fn start(targets: &[SocketAddr], avoid: Range<u16>) -> io::Result<Proxy> {
        let n = targets.len();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("chaos-proxy")
            .enable_all()
            .build()?;
        let mut pipes = Vec::with_capacity(n * n);
        for from in 0..n {
            for (to, target) in targets.iter().enumerate() {
                if from == to {
                    pipes.push(None);
                    continue;
                }
                let listener = runtime.block_on(bind_outside(&avoid))?;
                let listen = listener.local_addr()?;
                let (cuts, _) = watch::channel(0u64);
                let pipe = Arc::new(Pipe {
                    from,
                    to,
                    listen,
                    target: *target,
                    state: Mutex::new(LinkState::default()),
                    drops_pending: AtomicU32::new(0),
                    cuts,
                    stats: PipeStats::default(),
                });
                runtime.spawn(serve(pipe.clone(), listener));
                pipes.push(Some(pipe));
            }
        }
        Ok(Proxy {
            n,
            pipes,
            runtime: Some(runtime),
        })
    }

    /// How many validators the proxy connects.
    pub fn size(&self) -> usize {
        self.n
    }

    fn pipe(&self, from: usize, to: usize) -> Option<&Arc<Pipe>> {
        if from >= self.n || to >= self.n {
            return None;
        }
        self.pipes.get(from * self.n + to).and_then(Option::as_ref)
    }

    /// Both directions of the link between `a` and `b`.
    fn link(&self, a: usize, b: usize) -> impl Iterator<Item = &Arc<Pipe>> {
        self.pipe(a, b).into_iter().chain(self.pipe(b, a))
    }

    /// Where validator `from` dials validator `to`.
    pub fn addr(&self, from: usize, to: usize) -> Option<SocketAddr> {
        self.pipe(from, to).map(|p| p.listen)
    }

    /// Cuts the link between `a` and `b`: closes its live connections and
    /// refuses new ones until it is healed.
    pub fn cut(&self, a: usize, b: usize) {
        for p in self.link(a, b) {
            p.update(|s| s.cut = true);
            p.cuts.send_modify(|e| *e = e.wrapping_add(1));
        }
    }

    /// Heals a cut link.
    pub fn heal(&self, a: usize, b: usize) {
        for p in self.link(a, b) {
            p.update(|s| s.cut = false);
        }
    }

    /// Cuts every link of `node`.
    pub fn isolate(&self, node: usize) {
        for other in (0..self.n).filter(|&o| o != node) {
            self.cut(node, other);
        }
    }

    /// Cuts every link between the two sides.
    pub fn split(&self, left: &[usize], right: &[usize]) {
        for &a in left {
            for &b in right {
                self.cut(a, b);
            }
        }
    }

    /// Heals every cut link (delays and pending drops stay).
    pub fn heal_all(&self) {
        for p in self.pipes.iter().flatten() {
            p.update(|s| s.cut = false);
        }
    }

    /// Heals every link and clears every delay and pending drop.
    pub fn clear_all(&self) {
        for p in self.pipes.iter().flatten() {
            p.update(|s| *s = LinkState::default());
            p.drops_pending.store(0, Ordering::Relaxed);
        }
    }

    /// Delays every chunk on the link between `a` and `b` by `delay_ms`
    /// (at most [`MAX_DELAY_MS`]); 0 removes the delay.
    pub fn delay(&self, a: usize, b: usize, delay_ms: u64) {
        let delay_ms = delay_ms.min(MAX_DELAY_MS);
        for p in self.link(a, b) {
            p.update(|s| s.delay_ms = delay_ms);
        }
    }

    /// Removes every delay.
    pub fn clear_delays(&self) {
        for p in self.pipes.iter().flatten() {
            p.update(|s| s.delay_ms = 0);
        }
    }

    /// Discards the next chunk read on each listener of the link between
    /// `a` and `b` (whichever of them carries the connection, or both).
    pub fn drop_chunk(&self, a: usize, b: usize) {
        for p in self.link(a, b) {
            p.drops_pending.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Links that are cut now, as `(from, to)` listeners.
    pub fn cut_pipes(&self) -> Vec<(usize, usize)> {
        self.pipes
            .iter()
            .flatten()
            .filter(|p| p.state().cut)
            .map(|p| (p.from, p.to))
            .collect()
    }

    pub fn stats(&self) -> ProxyStats {
        let mut t = ProxyStats::default();
        for p in self.pipes.iter().flatten() {
            let s = &p.stats;
            t.accepted += s.accepted.load(Ordering::Relaxed);
            t.refused += s.refused.load(Ordering::Relaxed);
            t.closed_by_cut += s.closed_by_cut.load(Ordering::Relaxed);
            t.chunks_dropped += s.chunks_dropped.load(Ordering::Relaxed);
            t.bytes += s.bytes.load(Ordering::Relaxed);
        }
        t
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A listener on 127.0.0.1 whose port is outside `avoid`.
async fn bind_outside(avoid: &Range<u16>) -> io::Result<TcpListener> {
    let mut held = Vec::new();
    for _ in 0..BIND_ATTEMPTS {
        let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        if !avoid.contains(&l.local_addr()?.port()) {
            return Ok(l);
        }
        // Keep it bound, so the next attempt gets another port.
        held.push(l);
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("no free port outside {avoid:?}"),
    ))
}

async fn serve(pipe: Arc<Pipe>, listener: TcpListener) {
    loop {
        let inbound = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                // Out of descriptors or similar: try again shortly.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if pipe.state().cut {
            pipe.stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(inbound);
            continue;
        }
        tokio::spawn(forward(pipe.clone(), inbound));
    }
}

async fn forward(pipe: Arc<Pipe>, inbound: TcpStream) {
    // Subscribe before looking at the state, so a cut in between is seen.
    let mut cuts = pipe.cuts.subscribe();
    if pipe.state().cut {
        pipe.stats.refused.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let outbound =
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(pipe.target)).await {
            Ok(Ok(s)) => s,
            // The target is down: closing the inbound side tells the dialer.
            _ => return,
        };
    pipe.stats.accepted.fetch_add(1, Ordering::Relaxed);
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    tokio::select! {
        _ = pump(&pipe, in_read, out_write) => {}
        _ = pump(&pipe, out_read, in_write) => {}
        _ = cuts.changed() => {
            pipe.stats.closed_by_cut.fetch_add(1, Ordering::Relaxed);
        }
    }
    // Dropping the halves closes both sockets.
}

/// Copies one direction through a delay line until either side closes.
async fn pump(pipe: &Pipe, mut from: OwnedReadHalf, mut to: OwnedWriteHalf) {
    let mut line: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut held = 0usize;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut eof = false;
    loop {
        if eof && line.is_empty() {
            return;
        }
        let due = line.front().map(|(at, _)| *at);
        tokio::select! {
            r = from.read(&mut buf), if !eof && held < MAX_DELAYED_BYTES => match r {
                Ok(0) | Err(_) => eof = true,
                Ok(n) => {
                    if pipe.take_drop() {
                        pipe.stats.chunks_dropped.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let delay = Duration::from_millis(pipe.state().delay_ms);
                    held += n;
                    line.push_back((Instant::now() + delay, buf[..n].to_vec()));
                }
            },
            _ = sleep_until(due), if due.is_some() => {
                let Some((_, bytes)) = line.pop_front() else { continue };
                held -= bytes.len();
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
                pipe.stats.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            },
            else => return,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream as StdStream;

    /// An echo server on 127.0.0.1; returns its address.
    fn echo() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn roundtrip(addr: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut s = StdStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(msg)?;
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got)?;
        Ok(got)
    }

    #[test]
    fn the_proxy_forwards_cuts_heals_delays_and_drops() {
        let targets = [echo(), echo()];
        let proxy = Proxy::start(&targets, 0..0).unwrap();
        let a = proxy.addr(0, 1).unwrap();
        assert_eq!(proxy.addr(0, 0), None);
        assert_eq!(roundtrip(a, b"hello").unwrap(), b"hello");

        // A live connection is closed by a cut; new ones are refused.
        let mut live = StdStream::connect(a).unwrap();
        live.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        live.write_all(b"x").unwrap();
        let mut one = [0u8; 1];
        live.read_exact(&mut one).unwrap();
        proxy.cut(1, 0);
        assert_eq!(proxy.cut_pipes().len(), 2, "a link is both directions");
        let mut rest = Vec::new();
        assert_eq!(live.read_to_end(&mut rest).unwrap_or(0), 0, "closed");
        assert!(roundtrip(a, b"again").is_err());
        proxy.heal(0, 1);
        assert_eq!(roundtrip(a, b"healed").unwrap(), b"healed");

        // A delay holds every chunk back (both ways: at least twice).
        proxy.delay(0, 1, 150);
        let t = std::time::Instant::now();
        assert_eq!(roundtrip(a, b"slow").unwrap(), b"slow");
        assert!(
            t.elapsed() >= Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        proxy.clear_delays();

        // A dropped chunk never arrives.
        let mut s = StdStream::connect(a).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s.write_all(b"warm").unwrap();
        let mut four = [0u8; 4];
        s.read_exact(&mut four).unwrap();
        proxy.drop_chunk(0, 1);
        s.write_all(b"lost").unwrap();
        assert!(s.read_exact(&mut four).is_err(), "the chunk was dropped");
        let stats = proxy.stats();
        assert_eq!(stats.chunks_dropped, 1);
        proxy.clear_all();
        assert_eq!(roundtrip(a, b"clear").unwrap(), b"clear");
        assert!(stats.refused >= 1 && stats.closed_by_cut >= 1, "{stats:?}");
    }
}
