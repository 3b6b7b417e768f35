//! Ready-made connectors: TCP and Unix sockets.
//!
//! - [`tcp`] and [`unix`] make `async-io` sockets ([`Async<TcpStream>`](async_io::Async)),
//!   which work on every runtime (smol and async-std drive the same reactor; on Tokio and on
//!   the virtual runtime, async-io runs its own reactor thread).
//! - With the `tokio` feature, [`tokio_tcp`] and [`tokio_unix`] make Tokio's sockets (wrapped
//!   in [`TokioIo`](crate::TokioIo), so they speak the futures-io traits), driven by Tokio's
//!   own reactor; build the stream inside a Tokio runtime.
//!
//! Everything else (TLS, proxies, a handshake, an address looked up anew for each attempt) is
//! a connector of your own: a closure that returns a future of the connection. TLS wraps the
//! TCP connection inside that closure:
//!
//! ```
//! use std::net::SocketAddr;
//! use wrangle_io::RobustStream;
//!
//! // Stand-ins for a TLS crate's connector and stream (futures-rustls, async-native-tls...):
//! // what matters is the shape, a TCP connect followed by a handshake, on every attempt.
//! # #[derive(Clone)]
//! # struct TlsConnector;
//! # impl TlsConnector {
//! #     async fn connect<S>(&self, _domain: &str, tcp: S) -> std::io::Result<S> { Ok(tcp) }
//! # }
//! async fn open(addr: SocketAddr, tls: TlsConnector) {
//!     let stream = RobustStream::new(move || {
//!         let tls = tls.clone();
//!         async move {
//!             let tcp = async_io::Async::<std::net::TcpStream>::connect(addr).await?;
//!             tcp.get_ref().set_nodelay(true)?;
//!             // A failed handshake is a failed attempt: the stream backs off and retries.
//!             tls.connect("example.com", tcp).await
//!         }
//!     });
//!     # drop(stream);
//! }
//! # let _ = open;
//! ```
//!
//! `examples/tls_shape.rs` shows the same with a handshake you can run.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
#[cfg(unix)]
use std::path::PathBuf;
use std::pin::Pin;

use async_io::Async;

use crate::connector::Connector;

/// A boxed attempt, as the ready-made connectors return.
pub type ConnectFuture<C> = Pin<Box<dyn Future<Output = io::Result<C>> + Send + 'static>>;

/// A TCP connector (async-io), from [`tcp`].
#[derive(Debug, Clone)]
pub struct TcpConnector {
    addr: SocketAddr,
    nodelay: bool,
}

/// Connects to `addr` over TCP on every attempt, with `TCP_NODELAY` set (reconnecting streams
/// mostly carry messages, where Nagle's delay hurts); turn it off with
/// [`TcpConnector::nodelay`].
///
/// # Examples
///
/// ```no_run
/// use futures_lite::io::AsyncWriteExt;
/// use wrangle_io::{RobustStream, connect};
///
/// # wrangle_rt::block_on(async {
/// let mut stream = RobustStream::new(connect::tcp(([127, 0, 0, 1], 7000)));
/// stream.write_all(b"hello").await?; // waits for the server, however long it takes
/// # Ok::<_, std::io::Error>(()) }).unwrap();
/// ```
pub fn tcp(addr: impl Into<SocketAddr>) -> TcpConnector {
    TcpConnector {
        addr: addr.into(),
        nodelay: true,
    }
}

impl TcpConnector {
    /// Whether to set `TCP_NODELAY` on each connection (default `true`).
    #[must_use]
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }
}

impl Connector for TcpConnector {
    type Connection = Async<TcpStream>;
    type Error = io::Error;
    type Future = ConnectFuture<Async<TcpStream>>;

    fn connect(&mut self) -> Self::Future {
        let (addr, nodelay) = (self.addr, self.nodelay);
        Box::pin(async move {
            let stream = Async::<TcpStream>::connect(addr).await?;
            if nodelay {
                stream.get_ref().set_nodelay(true)?;
            }
            Ok(stream)
        })
    }
}

/// A Unix-socket connector (async-io), from [`unix`].
#[cfg(unix)]
#[derive(Debug, Clone)]
pub struct UnixConnector {
    path: PathBuf,
}

/// Connects to the Unix socket at `path` on every attempt.
///
/// # Examples
///
/// ```no_run
/// use wrangle_io::{RobustStream, connect};
///
/// # wrangle_rt::block_on(async {
/// let stream = RobustStream::new(connect::unix("/run/my-daemon.sock"));
/// stream.connected().await.unwrap();
/// # });
/// ```
#[cfg(unix)]
pub fn unix(path: impl Into<PathBuf>) -> UnixConnector {
    UnixConnector { path: path.into() }
}

#[cfg(unix)]
impl Connector for UnixConnector {
    type Connection = Async<UnixStream>;
    type Error = io::Error;
    type Future = ConnectFuture<Async<UnixStream>>;

    fn connect(&mut self) -> Self::Future {
        let path = self.path.clone();
        Box::pin(async move { Async::<UnixStream>::connect(path).await })
    }
}

#[cfg(feature = "tokio")]
pub use self::tokio_connectors::*;

#[cfg(feature = "tokio")]
mod tokio_connectors {
    use super::*;
    use crate::TokioIo;

    /// A TCP connector on Tokio's reactor, from [`tokio_tcp`] (feature `tokio`).
    #[derive(Debug, Clone)]
    pub struct TokioTcpConnector {
        addr: SocketAddr,
        nodelay: bool,
    }

    /// Connects to `addr` with `tokio::net::TcpStream` on every attempt, `TCP_NODELAY` set
    /// (feature `tokio`). The stream must run on Tokio.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use wrangle_io::{RobustStream, connect};
    ///
    /// #[tokio::main]
    /// async fn main() {
    ///     let stream = RobustStream::new(connect::tokio_tcp(([127, 0, 0, 1], 7000)));
    ///     stream.connected().await.unwrap();
    /// }
    /// ```
    pub fn tokio_tcp(addr: impl Into<SocketAddr>) -> TokioTcpConnector {
        TokioTcpConnector {
            addr: addr.into(),
            nodelay: true,
        }
    }

    impl TokioTcpConnector {
        /// Whether to set `TCP_NODELAY` on each connection (default `true`).
        #[must_use]
        pub fn nodelay(mut self, on: bool) -> Self {
            self.nodelay = on;
            self
        }
    }

    impl Connector for TokioTcpConnector {
        type Connection = TokioIo<tokio::net::TcpStream>;
        type Error = io::Error;
        type Future = ConnectFuture<TokioIo<tokio::net::TcpStream>>;

        fn connect(&mut self) -> Self::Future {
            let (addr, nodelay) = (self.addr, self.nodelay);
            Box::pin(async move {
                let stream = tokio::net::TcpStream::connect(addr).await?;
                stream.set_nodelay(nodelay)?;
                Ok(TokioIo::new(stream))
            })
        }
    }

    /// A Unix-socket connector on Tokio's reactor, from [`tokio_unix`] (feature `tokio`).
    #[cfg(unix)]
    #[derive(Debug, Clone)]
    pub struct TokioUnixConnector {
        path: PathBuf,
    }

    /// Connects to the Unix socket at `path` with `tokio::net::UnixStream` on every attempt
    /// (feature `tokio`). The stream must run on Tokio.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use wrangle_io::{RobustStream, connect};
    ///
    /// #[tokio::main]
    /// async fn main() {
    ///     let stream = RobustStream::new(connect::tokio_unix("/run/my-daemon.sock"));
    ///     stream.connected().await.unwrap();
    /// }
    /// ```
    #[cfg(unix)]
    pub fn tokio_unix(path: impl Into<PathBuf>) -> TokioUnixConnector {
        TokioUnixConnector { path: path.into() }
    }

    #[cfg(unix)]
    impl Connector for TokioUnixConnector {
        type Connection = TokioIo<tokio::net::UnixStream>;
        type Error = io::Error;
        type Future = ConnectFuture<TokioIo<tokio::net::UnixStream>>;

        fn connect(&mut self) -> Self::Future {
            let path = self.path.clone();
            Box::pin(async move { Ok(TokioIo::new(tokio::net::UnixStream::connect(path).await?)) })
        }
    }
}

impl fmt::Display for TcpConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp://{}", self.addr)
    }
}
