//! Accepting and serving connections, plain or TLS, for the HTTP and gRPC listeners.
//!
//! Both listeners share the accept loop: at most `server.max_connections` connections are open
//! at once per listener — the loop stops calling `accept` when the limit is reached, so excess
//! connections wait in the kernel's listen backlog (and time out or are refused there) rather
//! than being accepted and closed. A TLS handshake must finish within
//! [`crate::tls::HANDSHAKE_TIMEOUT`].
//!
//! A connection (after its TLS handshake) must send its first byte within
//! `server.header_read_timeout`. HTTP connections are served by hyper with the limits of
//! [`ConnLimits`]: headers must arrive within `server.header_read_timeout` (slow-loris
//! protection), at most `server.max_headers`
//! fields, at most `server.max_header_size` bytes of head (HTTP/1 read buffer, HTTP/2 header
//! list). Each request carries `ConnectInfo<SocketAddr>` and, with a verified client
//! certificate, [`ClientCertificate`] as extensions.
//!
//! Shutdown: when the signal resolves, the loop stops accepting and closes the listening
//! socket; open connections finish their in-flight requests and are closed (HTTP/1 after the
//! current response, HTTP/2 with GOAWAY).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use futures::Stream;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tower::ServiceExt;

use crate::config::Settings;
use crate::tls::{ClientCertificate, Tls};

/// Connection-level limits, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Time allowed for a request's headers.
    pub header_read_timeout: Duration,
    /// Most header fields per HTTP/1 request.
    pub max_headers: usize,
    /// Most bytes of request head.
    pub max_header_bytes: usize,
    /// Most open connections per listener.
    pub max_connections: usize,
}

impl ConnLimits {
    /// The limits `settings` configure.
    pub fn from_settings(settings: &Settings) -> ConnLimits {
        ConnLimits {
            header_read_timeout: settings.header_read_timeout,
            max_headers: settings.max_headers,
            max_header_bytes: settings.max_header_bytes,
            max_connections: settings.max_connections,
        }
    }
}

/// What is known about the peer of a connection. The gRPC services read it from the request
/// extensions (tonic inserts it through [`tonic::transport::server::Connected`]).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The peer's address.
    pub peer: SocketAddr,
    /// The verified client certificate, if the client presented one.
    pub client_certificate: Option<ClientCertificate>,
}

/// An accepted connection, plain or TLS. Holds its slot of `server.max_connections` until
/// dropped.
pub struct Conn {
    io: ConnIo,
    info: ConnInfo,
    /// Until the client sends its first byte: when it must have arrived. hyper's header
    /// timeout only starts with the first byte, so without this a silent connection would hold
    /// its slot forever.
    first_byte: Option<Pin<Box<tokio::time::Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

enum ConnIo {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Conn {
    /// Completes the TLS handshake when `tls` is set; `None` when it failed (already counted).
    async fn establish(
        tcp: TcpStream,
        peer: SocketAddr,
        tls: Option<&Tls>,
        first_byte_timeout: Duration,
        permit: OwnedSemaphorePermit,
    ) -> Option<Conn> {
        let (io, client_certificate) = match tls {
            None => (ConnIo::Plain(tcp), None),
            Some(tls) => {
                let (stream, client) = tls.accept(tcp, peer).await?;
                (ConnIo::Tls(Box::new(stream)), client)
            }
        };
        Some(Conn {
            io,
            info: ConnInfo {
                peer,
                client_certificate,
            },
            first_byte: Some(Box::pin(tokio::time::sleep(first_byte_timeout))),
            _permit: permit,
        })
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = match &mut this.io {
            ConnIo::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ConnIo::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        };
        if let Some(deadline) = &mut this.first_byte {
            match polled {
                Poll::Ready(Ok(())) if buf.filled().len() > before => this.first_byte = None,
                Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no request within server.header_read_timeout",
                    )));
                }
                _ => {}
            }
        }
        polled
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ConnIo::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(s) => Pin::new(s).poll_flush(cx),
            ConnIo::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ConnIo::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ConnIo::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            ConnIo::Plain(s) => s.is_write_vectored(),
            ConnIo::Tls(s) => s.is_write_vectored(),
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

/// Waits for a connection slot and the next connection; `None` once `shutdown` resolved.
async fn next_tcp(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    shutdown: &mut Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let permit = tokio::select! {
        biased;
        _ = shutdown.as_mut() => return None,
        permit = slots.clone().acquire_owned() => permit.ok()?,
    };
    loop {
        tokio::select! {
            biased;
            _ = shutdown.as_mut() => return None,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    return Some((tcp, peer, permit));
                }
                // The peer reset before we accepted: nothing to do.
                Err(e) if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) => {}
                // Out of file descriptors and the like: pause rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

fn http_builder(limits: &ConnLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.max_headers)
        .max_buf_size(limits.max_header_bytes);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(Duration::from_secs(60)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Serves `app` on `listener` (TLS when `tls` is set) until `shutdown` resolves, then waits
/// for open connections to finish their in-flight requests.
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<Tls>>,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut shutdown: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(shutdown);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let builder = http_builder(&limits);
    let graceful = GracefulShutdown::new();
    while let Some((tcp, peer, permit)) = next_tcp(&listener, &slots, &mut shutdown).await {
        // Made before the handshake, so shutdown also waits for connections still in it.
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let app = app.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let first_byte = limits.header_read_timeout;
            let Some(conn) = Conn::establish(tcp, peer, tls.as_deref(), first_byte, permit).await
            else {
                return;
            };
            let client = conn.info.client_certificate.clone();
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    if let Some(client) = &client {
                        request.extensions_mut().insert(client.clone());
                    }
                    app.clone().oneshot(request)
                });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(conn), service)
                .into_owned();
            // Errors here are the client's (reset, bad request, timeout); hyper answered what
            // could be answered.
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The connections of `listener` (TLS when `tls` is set) as a stream for tonic, until
/// `shutdown` resolves. Handshakes run concurrently, so a slow client delays nobody.
pub fn incoming(
    listener: TcpListener,
    tls: Option<Arc<Tls>>,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
    let (sender, receiver) = mpsc::channel::<io::Result<Conn>>(64);
    tokio::spawn(async move {
        let mut shutdown: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(shutdown);
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        while let Some((tcp, peer, permit)) = next_tcp(&listener, &slots, &mut shutdown).await {
            let tls = tls.clone();
            let sender = sender.clone();
            tokio::spawn(async move {
                let first_byte = limits.header_read_timeout;
                if let Some(conn) =
                    Conn::establish(tcp, peer, tls.as_deref(), first_byte, permit).await
                {
                    let _ = sender.send(Ok(conn)).await;
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Handlers see `ConnectInfo<SocketAddr>` (rate limiting per source IP relies on it), and no
    /// `ClientCertificate` on a plain connection; shutdown stops the loop.
    #[tokio::test]
    async fn handlers_see_the_peer_address() {
        let app = Router::new().route(
            "/peer",
            get(
                |ConnectInfo(peer): ConnectInfo<SocketAddr>,
                 cert: Option<axum::Extension<ClientCertificate>>| async move {
                    format!("{} {}", peer.ip(), cert.is_some())
                },
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = ConnLimits {
            header_read_timeout: Duration::from_secs(5),
            max_headers: 100,
            max_header_bytes: 16 << 10,
            max_connections: 8,
        };
        let server = tokio::spawn(serve_http(listener, app, None, limits, async {
            let _ = stopped.await;
        }));
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("127.0.0.1 false"), "{answer}");
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the loop stops on shutdown")
            .unwrap()
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "still listening");
    }
}
