//! [`Connector`]: what makes a new connection for every attempt.

use std::future::Future;

use wrangle_rt::BoxError;

/// Makes one connection per call; a robust stream or sink calls it for every attempt, so the
/// address, credentials or TLS settings may change between attempts.
///
/// Closures `FnMut() -> impl Future<Output = Result<Connection, E>>` implement it, as do the
/// ready-made connectors of [`connect`](crate::connect). The closure and its future must be
/// `Send + 'static`: they run on the stream's connect loop, a task of its runtime. Both are
/// called under `catch_unwind`: a panic fails that attempt (and is reported), nothing more.
///
/// # Examples
///
/// A connector that asks a service registry for the address before every attempt:
///
/// ```
/// use std::net::SocketAddr;
/// use std::sync::{Arc, Mutex};
/// use wrangle_io::Connector;
///
/// fn current_address(registry: &Mutex<Vec<SocketAddr>>) -> SocketAddr {
///     registry.lock().unwrap()[0]
/// }
///
/// let registry = Arc::new(Mutex::new(vec!["127.0.0.1:1".parse().unwrap()]));
/// let mut connector = {
///     let registry = registry.clone();
///     move || {
///         let addr = current_address(&registry);
///         async move { async_io::Async::<std::net::TcpStream>::connect(addr).await }
///     }
/// };
/// # fn assert_connector<C: Connector>(_: &C) {}
/// assert_connector(&connector);
/// # let _ = &mut connector;
/// ```
pub trait Connector: Send + 'static {
    /// The connection: a byte stream (`AsyncRead + AsyncWrite`) for a
    /// [`RobustStream`](crate::RobustStream), a message stream (`Stream + Sink`) for a
    /// [`RobustSink`](crate::RobustSink).
    type Connection: Send + 'static;
    /// Why an attempt failed.
    type Error: Into<BoxError>;
    /// One attempt.
    type Future: Future<Output = Result<Self::Connection, Self::Error>> + Send + 'static;

    /// Starts one attempt.
    fn connect(&mut self) -> Self::Future;
}

impl<F, Fut, C, E> Connector for F
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<C, E>> + Send + 'static,
    C: Send + 'static,
    E: Into<BoxError>,
{
    type Connection = C;
    type Error = E;
    type Future = Fut;

    fn connect(&mut self) -> Fut {
        self()
    }
}
