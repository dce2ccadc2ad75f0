// SPDX-License-Identifier: MIT
//! The HTTP server loop, with the limits `axum::serve` does not have: at most
//! `--max-connections` connections (past it, new ones wait in the listen backlog), and hyper's
//! header read timeout, which also closes idle keep-alive connections; and [`paced_body`], the
//! minimum upload rate of every request body (Apache's mod_reqtimeout `body=` rule).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use futures_util::{Stream, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;

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
            let _ = http.serve_connection(TokioIo::new(stream), service).with_upgrades().await;
        });
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
}
