// SPDX-License-Identifier: MIT
//! The HTTP server loop, with the limits `axum::serve` does not have: at most
//! `--max-connections` connections (past it, new ones wait in the listen backlog), and hyper's
//! header read timeout, which also closes idle keep-alive connections; a lingering close (see
//! [`Lingering`]); and [`paced_body`], the minimum upload rate of every request body (Apache's
//! mod_reqtimeout `body=` rule).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use futures_util::{Stream, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// The connection limits of [`serve`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A connection's request headers must arrive within this, counted from when it is opened or
    /// its last response was sent: slow headers and idle keep-alive connections are closed.
    pub header_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// How fast a request body must arrive (see [`paced_body`]).
#[derive(Clone, Copy, Debug)]
pub struct BodyPace {
    /// Time allowed before the rate counts.
    pub timeout: Duration,
    /// Bytes a second that extend it.
    pub min_rate: u64,
}

/// Serves `router` on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait for connections to end.
                eprintln!("emotiondetect-web: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
            // Errors are the client's (reset, timeout): nothing to do.
            let _ = http.serve_connection(TokioIo::new(Lingering::new(stream)), service).with_upgrades().await;
        });
    }
}

/// How long a closing connection goes on discarding what its client sends (see [`Lingering`]).
pub const LINGER_TIME: Duration = Duration::from_secs(5);
/// How many bytes a closing connection discards at most (see [`Lingering`]).
pub const LINGER_BYTES: u64 = 64 << 20;

/// A connection that closes the way Apache's and nginx's do (a "lingering close"): its shutdown
/// sends the FIN after the response, then reads and discards what the client still sends until
/// the client closes, [`LINGER_TIME`] passes or [`LINGER_BYTES`] arrive.
///
/// Why: a response sent before the request body was read (413 from `Content-Length`, 503 busy,
/// 404 on a POST) ends the connection with the rest of the body unread, and a socket closed with
/// unread data sends a reset. A client still uploading (curl, a browser's `fetch`) then fails on
/// "broken pipe" or "connection reset" before it reads the JSON error.
pub struct Lingering<S> {
    io: S,
    linger: Option<Linger>,
}

struct Linger {
    deadline: Pin<Box<Sleep>>,
    discarded: u64,
}

impl<S> Lingering<S> {
    /// Wraps `io`, which behaves as itself until it is shut down.
    pub fn new(io: S) -> Lingering<S> {
        Lingering { io, linger: None }
    }
}

impl Linger {
    /// Discards what arrives on `io` until the peer's EOF, an error, the deadline or the byte
    /// limit.
    fn poll_discard<S: AsyncRead + Unpin>(&mut self, io: &mut S, cx: &mut Context<'_>) -> Poll<()> {
        let mut scratch = [0u8; 8192];
        while self.discarded < LINGER_BYTES && !self.deadline.is_elapsed() {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => self.discarded += buf.filled().len() as u64,
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return self.deadline.as_mut().poll(cx),
            }
        }
        Poll::Ready(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Lingering<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Shuts the writing half (the FIN follows the response), then lingers; the client's
    /// leftovers are not an error of the shutdown.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let linger = match &mut this.linger {
            Some(linger) => linger,
            None => {
                ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
                this.linger.insert(Linger { deadline: Box::pin(tokio::time::sleep(LINGER_TIME)), discarded: 0 })
            }
        };
        ready!(linger.poll_discard(&mut this.io, cx));
        Poll::Ready(Ok(()))
    }
}

/// Why a request body was cut off.
#[derive(Debug)]
pub struct TooSlow(pub String);

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TooSlow {}

/// Middleware: every request body must arrive by `pace.timeout` plus one second per
/// `pace.min_rate` bytes received; a slower one ends in a [`TooSlow`] error for the handler
/// reading it, which frees whatever slot the request held.
pub async fn paced_body(pace: BodyPace, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let body = Body::from_stream(paced(body.into_data_stream(), pace));
    next.run(Request::from_parts(parts, body)).await
}

fn paced<S>(stream: S, pace: BodyPace) -> impl Stream<Item = Result<Bytes, axum::Error>>
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Unpin,
{
    let start = Instant::now();
    futures_util::stream::unfold((stream, 0u64, false), move |(mut stream, received, ended)| async move {
        if ended {
            return None;
        }
        let allowed = pace.timeout + Duration::from_secs_f64(received as f64 / pace.min_rate.max(1) as f64);
        match tokio::time::timeout_at(start + allowed, stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                let received = received + chunk.len() as u64;
                Some((Ok(chunk), (stream, received, false)))
            }
            Ok(Some(Err(e))) => Some((Err(e), (stream, received, true))),
            Ok(None) => None,
            Err(_) => {
                let why = format!(
                    "the request body arrived too slowly: {received} bytes in {:.0} s (at least {:.1} KB/s after the first {} s: \
                     --min-body-rate, --body-timeout)",
                    start.elapsed().as_secs_f64(),
                    pace.min_rate as f64 / 1024.0,
                    pace.timeout.as_secs()
                );
                Some((Err(axum::Error::new(TooSlow(why))), (stream, received, true)))
            }
        }
    })
}

/// The [`TooSlow`] inside a body error (at any depth: each `Body` wraps its stream's errors
/// again), if that is what it is.
pub fn too_slow(e: &axum::Error) -> Option<&TooSlow> {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(slow) = c.downcast_ref::<TooSlow>() {
            return Some(slow);
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_trickle_is_cut_and_a_steady_body_is_not() {
        let pace = BodyPace { timeout: Duration::from_secs(10), min_rate: 1000 };
        // 1 byte every 2 s: cut once 10 s (plus 1 ms a byte) have passed.
        let trickle = futures_util::stream::unfold(0u32, |n| async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Some((Ok(Bytes::from_static(b"x")), n + 1))
        });
        let got: Vec<_> = paced(Box::pin(trickle), pace).collect().await;
        assert_eq!(got.len(), 6, "5 bytes (2, 4, ... 10 s) then the error");
        let err = got.last().unwrap().as_ref().unwrap_err();
        assert!(too_slow(err).is_some_and(|t| t.0.contains("5 bytes in 10 s")), "{err:?}");
        // 10 KB a second for 60 s: each chunk buys 10 s more.
        let steady = futures_util::stream::iter(0..60).then(|_| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(Bytes::from(vec![0u8; 10_000]))
        });
        let got: Vec<_> = paced(Box::pin(steady), pace).collect().await;
        assert!(got.len() == 60 && got.iter().all(|c| c.is_ok()));
    }

    /// The bytes a [`Lingering`] discarded while closing, and how long its close took.
    async fn linger(conn: &mut Lingering<tokio::io::DuplexStream>) -> (u64, Duration) {
        use tokio::io::AsyncWriteExt;
        let start = Instant::now();
        conn.shutdown().await.expect("the shutdown");
        (conn.linger.as_ref().expect("lingered").discarded, start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_close_lingers_until_the_client_closes_the_deadline_or_the_byte_limit() {
        use tokio::io::AsyncWriteExt;
        // A client that sent the rest of its body and closed: discarded, no wait.
        let (server, mut client) = tokio::io::duplex(64 << 10);
        client.write_all(b"the rest of a refused body").await.unwrap();
        drop(client);
        assert_eq!(linger(&mut Lingering::new(server)).await, (26, Duration::ZERO));
        // A client that stays silent and open: given up after LINGER_TIME.
        let (server, _client) = tokio::io::duplex(64 << 10);
        assert_eq!(linger(&mut Lingering::new(server)).await, (0, LINGER_TIME));
        // A client that never stops sending: given up after LINGER_BYTES.
        let (server, mut client) = tokio::io::duplex(64 << 10);
        tokio::spawn(async move { while client.write_all(&[0u8; 65536]).await.is_ok() {} });
        let (discarded, took) = linger(&mut Lingering::new(server)).await;
        assert!((LINGER_BYTES..LINGER_BYTES + 8192).contains(&discarded) && took < LINGER_TIME, "{discarded} bytes in {took:?}");
    }
}
