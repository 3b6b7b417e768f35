//! [`Redis`]: one server, connected lazily, reconnected after failures, every call under a
//! timeout.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, Value};
use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};

use crate::{MAX_DURATION, RedisError, RedisErrorKind};

/// A handle to one Redis (or Valkey) server, shared by the primitives of this crate.
///
/// It connects on first use, over one multiplexed connection that every clone and every
/// primitive shares. When a call finds the server unreachable or gets no answer in time, the
/// connection is dropped and the next call (after the
/// [reconnect delay](RedisBuilder::reconnect_delay)) connects again: a server that was
/// stopped and restarted is picked up without anyone's help. Every call is bounded by the
/// [call timeout](RedisBuilder::call_timeout), so nothing waits on a dead server for longer.
///
/// Cloning is cheap (one `Arc`). The connection goes through redis-rs (ADR 0100): its smol
/// driver, or its Tokio driver inside a Tokio context with the `runtime-tokio` feature.
/// Timeouts run on the wrangle runtime's timer and on redis-rs's (real time): on the virtual
/// runtime, the clock is held while a call is in flight, since the server's I/O is real.
///
/// # Which servers
///
/// - **One server, or a managed Redis with one endpoint** (a primary with replicas behind a
///   proxy or a failover address): [`Redis::open`] / [`Redis::builder`] with its URL.
/// - **TLS** (feature `tls`): a `rediss://` URL. The server's certificate is checked against
///   the system's root certificates, or against
///   `tls_root_certificate` for a private CA; a client
///   certificate (mutual TLS) is set with
///   `tls_client_certificate`.
/// - **Redis Cluster** (feature `cluster`): `Redis::cluster_builder` with one or more nodes'
///   URLs (`rediss://` for TLS). Each call goes to the node that owns its key's slot, and
///   redirections (`MOVED`, `ASK`) are followed. Every primitive of this crate touches one
///   key per call, except [`RedisLease`](crate::RedisLease), whose fence counter lives at
///   `<key>:fence`: in a cluster its key needs a hash tag (`{jobs}:leader`), checked before
///   anything is sent.
///
/// A managed service's "cluster mode" endpoint (a configuration endpoint that answers
/// `CLUSTER SLOTS`) is a cluster: give it to `Redis::cluster_builder` as the one node.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_redis::Redis;
///
/// wrangle_rt::VirtualRuntime::new().block_on(async {
///     // Nothing is connected yet: the first call connects.
///     let redis = Redis::builder("redis://127.0.0.1:6379/0")
///         .call_timeout(Duration::from_millis(500))
///         .build()
///         .unwrap();
///     assert_eq!(redis.stats().started, 0);
///     // A URL redis-rs cannot parse is refused at once.
///     assert!(Redis::open("mongodb://nope").is_err());
/// });
/// ```
pub struct Redis<R: Runtime = DefaultRuntime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for Redis<R> {
    fn clone(&self) -> Self {
        Redis {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<R> {
    rt: R,
    target: Target,
    /// The server (or the cluster's first nodes) as configured, for `Debug`.
    servers: String,
    call_timeout: Duration,
    connect_timeout: Duration,
    reconnect_delay: Duration,
    conn: Mutex<Conn>,
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
    connects: AtomicU64,
}

/// Where the calls go. Built once per handle, so the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Target {
    Node(redis::Client),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster::ClusterClient),
}

/// One open connection: to a server, or to a cluster (one connection per node, routed by
/// key slot). Cheap to clone; every call of a handle shares it.
#[derive(Clone)]
pub(crate) enum Connection {
    Node(MultiplexedConnection),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Node(c) => c.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Node(c) => c.req_packed_commands(pipeline, offset, count),
            #[cfg(feature = "cluster")]
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Node(c) => c.get_db(),
            #[cfg(feature = "cluster")]
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

#[derive(Default)]
struct Conn {
    current: Option<(u64, Connection)>,
    generation: u64,
    /// No new connection attempt before this instant (after a failed one).
    retry_at: Option<Instant>,
}

/// A snapshot of a [`Redis`] handle's counters.
///
/// Invariant: `started >= completed + failed + timed_out`; the difference is the calls in
/// flight and those dropped (cancelled) before they ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisStats {
    /// Calls begun (each command or script call, retries included).
    pub started: u64,
    /// Calls the server answered without an error.
    pub completed: u64,
    /// Calls that ended with an error other than a timeout.
    pub failed: u64,
    /// Calls that hit the call timeout.
    pub timed_out: u64,
    /// Connections opened (the first one and every reconnection).
    pub connects: u64,
}

/// The configuration of a [`Redis`] handle was invalid: an unparsable URL, a `rediss://` URL
/// without the `tls` feature, an unreadable certificate, a cluster without nodes, or a
/// timeout that is zero or longer than [`MAX_DURATION`].
#[derive(Debug, Clone)]
pub struct InvalidRedisConfig {
    message: String,
}

impl fmt::Display for InvalidRedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid redis configuration: {}", self.message)
    }
}

impl std::error::Error for InvalidRedisConfig {}

/// Builds a [`Redis`] handle; made by [`Redis::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_redis::Redis;
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let redis = Redis::builder("redis://127.0.0.1:6379/")
///     .runtime(rt)
///     .call_timeout(Duration::from_millis(250))
///     .connect_timeout(Duration::from_secs(1))
///     .reconnect_delay(Duration::from_millis(50))
///     .build()
///     .unwrap();
/// assert_eq!(redis.call_timeout(), Duration::from_millis(250));
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct RedisBuilder<R: Runtime = DefaultRuntime> {
    /// One URL for a server; the first nodes' URLs for a cluster.
    urls: Vec<String>,
    cluster: bool,
    rt: Option<R>,
    call_timeout: Duration,
    connect_timeout: Duration,
    reconnect_delay: Duration,
    #[cfg(feature = "tls")]
    tls: Tls,
}

/// Certificates for TLS beyond the system's root certificates.
#[cfg(feature = "tls")]
#[derive(Default)]
struct Tls {
    root: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

#[cfg(feature = "tls")]
impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key's bytes.
        f.debug_struct("Tls")
            .field("root_certificate", &self.root.is_some())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

impl Redis {
    /// A handle to the server at `url` (`redis://[user:password@]host:port[/db]`) with the
    /// default timeouts, on [`DefaultRuntime::current`]. Nothing connects until the first
    /// call.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let redis = wrangle_redis::Redis::open("redis://127.0.0.1/").unwrap();
    ///     assert_eq!(redis.stats().connects, 0);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidRedisConfig`] if redis-rs cannot parse the URL.
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn open(url: &str) -> Result<Redis, InvalidRedisConfig> {
        Redis::builder(url).build()
    }

    /// A builder for a handle to the server at `url`; see [`RedisBuilder`].
    pub fn builder(url: &str) -> RedisBuilder {
        RedisBuilder {
            urls: vec![url.to_owned()],
            cluster: false,
            rt: None,
            call_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            reconnect_delay: Duration::from_millis(100),
            #[cfg(feature = "tls")]
            tls: Tls::default(),
        }
    }

    /// A builder for a handle to a Redis Cluster (feature `cluster`), given one or more of
    /// its nodes' URLs (`redis://host:port` or, with the `tls` feature, `rediss://`). The
    /// rest of the cluster is discovered from them (`CLUSTER SLOTS`) when the first call
    /// connects; each call then goes to the node that owns its key's slot, following
    /// `MOVED` and `ASK` redirections.
    ///
    /// The nodes must agree on user name and password. A managed service's configuration
    /// endpoint is one node. See [`Redis`] for the one primitive whose keys need a hash tag.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_redis::Redis;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let redis = Redis::cluster_builder(["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"])
    ///         .build()
    ///         .unwrap();
    ///     assert_eq!(redis.stats().connects, 0); // nothing connects before the first call
    ///     // A cluster needs at least one node.
    ///     assert!(Redis::cluster_builder(Vec::<String>::new()).build().is_err());
    /// });
    /// ```
    #[cfg(feature = "cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
    pub fn cluster_builder<I>(nodes: I) -> RedisBuilder
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut builder = Redis::builder("");
        builder.urls = nodes.into_iter().map(|n| n.as_ref().to_owned()).collect();
        builder.cluster = true;
        builder
    }
}

/// [`DefaultRuntime::current`] as `R`: a builder has no runtime only while `R` is still
/// `DefaultRuntime` (`runtime(..)` sets both), so the downcast cannot fail.
fn current<R: Runtime>() -> R {
    let rt: Box<dyn std::any::Any> = Box::new(DefaultRuntime::current());
    *rt.downcast::<R>()
        .expect("a builder without a runtime is a DefaultRuntime builder")
}

impl<R: Runtime> RedisBuilder<R> {
    /// Runs the handle's timers on `rt` instead of [`DefaultRuntime::current`].
    pub fn runtime<R2: Runtime>(self, rt: R2) -> RedisBuilder<R2> {
        RedisBuilder {
            urls: self.urls,
            cluster: self.cluster,
            rt: Some(rt),
            call_timeout: self.call_timeout,
            connect_timeout: self.connect_timeout,
            reconnect_delay: self.reconnect_delay,
            #[cfg(feature = "tls")]
            tls: self.tls,
        }
    }

    /// Trusts only this root certificate (PEM) for `rediss://` servers, instead of the
    /// system's root certificates: for a server whose certificate a private CA signed
    /// (feature `tls`). The certificate is parsed when the handle is built.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_redis::Redis;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     // Not a certificate: refused when the handle is built.
    ///     let built = Redis::builder("rediss://redis.internal:6380/")
    ///         .tls_root_certificate(b"not a certificate".to_vec())
    ///         .build();
    ///     assert!(built.is_err());
    /// });
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.root = Some(pem.into());
        self
    }

    /// Presents this client certificate and private key (both PEM) to `rediss://` servers
    /// that ask for one (mutual TLS; `tls-auth-clients yes` in `redis.conf`; feature `tls`).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_client_certificate(
        mut self,
        certificate_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client = Some((certificate_pem.into(), key_pem.into()));
        self
    }

    /// The longest wait for one reply (default 1 s). A call that gets no answer in time fails
    /// with [`RedisErrorKind::TimedOut`] and the connection is replaced.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The longest wait for a connection to open (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// After a failed connection attempt, calls fail at once with
    /// [`RedisErrorKind::Unavailable`] for this long before the next attempt (default
    /// 100 ms), so a dead server costs no connection attempt per call.
    pub fn reconnect_delay(mut self, delay: Duration) -> Self {
        self.reconnect_delay = delay;
        self
    }

    /// Builds the handle; nothing connects until the first call.
    ///
    /// # Errors
    ///
    /// [`InvalidRedisConfig`] if redis-rs cannot parse a URL, a URL is `rediss://` without
    /// the `tls` feature, a certificate is not PEM, a cluster has no node, or a timeout is
    /// zero or longer than [`MAX_DURATION`] (the reconnect delay may be zero).
    ///
    /// # Panics
    ///
    /// Without [`runtime`](Self::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn build(self) -> Result<Redis<R>, InvalidRedisConfig> {
        let invalid = |message: &str| InvalidRedisConfig {
            message: message.to_owned(),
        };
        for (d, name) in [
            (self.call_timeout, "call timeout"),
            (self.connect_timeout, "connect timeout"),
        ] {
            if d.is_zero() || d > MAX_DURATION {
                return Err(invalid(&format!(
                    "{name} must be non-zero and at most MAX_DURATION"
                )));
            }
        }
        if self.reconnect_delay > MAX_DURATION {
            return Err(invalid("reconnect delay longer than MAX_DURATION"));
        }
        let target = self.target()?;
        let servers = self
            .urls
            .iter()
            .map(|u| redact(u))
            .collect::<Vec<_>>()
            .join(", ");
        let rt = match self.rt {
            Some(rt) => rt,
            None => current(),
        };
        Ok(Redis {
            inner: Arc::new(Inner {
                rt,
                target,
                servers,
                call_timeout: self.call_timeout,
                connect_timeout: self.connect_timeout,
                reconnect_delay: self.reconnect_delay,
                conn: Mutex::new(Conn::default()),
                started: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                timed_out: AtomicU64::new(0),
                connects: AtomicU64::new(0),
            }),
        })
    }

    /// The redis-rs client for the configured server or cluster.
    fn target(&self) -> Result<Target, InvalidRedisConfig> {
        let invalid = |message: String| InvalidRedisConfig { message };
        for url in &self.urls {
            let scheme = url.split("://").next().unwrap_or_default();
            if !cfg!(feature = "tls") && (scheme == "rediss" || scheme == "valkeys") {
                return Err(invalid(format!(
                    "{scheme}:// (TLS) needs wrangle-redis's `tls` feature"
                )));
            }
        }
        #[cfg(feature = "tls")]
        let certificates = self.tls_certificates()?;
        if self.cluster {
            #[cfg(feature = "cluster")]
            {
                if self.urls.is_empty() {
                    return Err(invalid(
                        "a cluster needs at least one node's URL".to_owned(),
                    ));
                }
                // The response timeout is also redis-rs's bound on a whole request, retries
                // and redirections included: on the virtual runtime (whose clock is held
                // during a call) it is what ends a call to a dead node.
                let builder =
                    redis::cluster::ClusterClientBuilder::new(self.urls.iter().map(String::as_str))
                        .connection_timeout(self.connect_timeout)
                        .response_timeout(self.call_timeout);
                #[cfg(feature = "tls")]
                let builder = match certificates {
                    Some(c) => builder.certs(c),
                    None => builder,
                };
                let client = builder.build().map_err(|e| invalid(e.to_string()))?;
                return Ok(Target::Cluster(client));
            }
        }
        let url = self.urls.first().map_or("", String::as_str);
        #[cfg(feature = "tls")]
        if let Some(certificates) = certificates {
            let client = redis::Client::build_with_tls(url, certificates)
                .map_err(|e| invalid(e.to_string()))?;
            return Ok(Target::Node(client));
        }
        let client = redis::Client::open(url).map_err(|e| invalid(e.to_string()))?;
        Ok(Target::Node(client))
    }

    /// The certificates set on the builder, checked as PEM; `None` when none was set (the
    /// system's root certificates then). Also makes sure rustls has a crypto provider.
    #[cfg(feature = "tls")]
    fn tls_certificates(&self) -> Result<Option<redis::TlsCertificates>, InvalidRedisConfig> {
        // redis-rs builds its TLS configuration with rustls's process-wide default provider.
        // With ring as the only provider compiled in, rustls would pick it by itself; if the
        // application compiled in another one too and installed none, ring is installed here
        // rather than letting the first connection panic. An error means another thread
        // installed one meanwhile, which is as good.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let invalid = |what: &str| InvalidRedisConfig {
            message: format!("{what} is not a PEM certificate (or key)"),
        };
        let Tls { root, client } = &self.tls;
        if root.is_none() && client.is_none() {
            return Ok(None);
        }
        if let Some(root) = root
            && !is_pem(root, "CERTIFICATE")
        {
            return Err(invalid("the TLS root certificate"));
        }
        if let Some((certificate, key)) = client {
            if !is_pem(certificate, "CERTIFICATE") {
                return Err(invalid("the TLS client certificate"));
            }
            if !is_pem(key, "PRIVATE KEY") {
                return Err(invalid("the TLS client key"));
            }
        }
        Ok(Some(redis::TlsCertificates {
            client_tls: client
                .as_ref()
                .map(|(certificate, key)| redis::ClientTlsConfig {
                    client_cert: certificate.clone(),
                    client_key: key.clone(),
                }),
            root_cert: root.clone(),
        }))
    }
}

/// `url` without its user name and password (`redis://***@host:port/`), for `Debug`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Whether `bytes` hold a PEM block whose label ends with `label` (`CERTIFICATE`, or
/// `PRIVATE KEY` for the PKCS#8, RSA and EC key labels). redis-rs parses the blocks when it
/// connects; this catches a wrong file (a DER file, a path passed as bytes) when the handle
/// is built.
#[cfg(feature = "tls")]
fn is_pem(bytes: &[u8], label: &str) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    text.lines().any(|line| {
        line.strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|l| l.ends_with(label))
    })
}

impl<R: Runtime> Redis<R> {
    /// The runtime whose timers this handle uses.
    #[must_use]
    pub fn runtime(&self) -> &R {
        &self.inner.rt
    }

    /// The longest wait for one reply.
    #[must_use]
    pub fn call_timeout(&self) -> Duration {
        self.inner.call_timeout
    }

    /// A snapshot of the counters; see [`RedisStats`].
    #[must_use]
    pub fn stats(&self) -> RedisStats {
        let i = &self.inner;
        RedisStats {
            started: i.started.load(Ordering::Relaxed),
            completed: i.completed.load(Ordering::Relaxed),
            failed: i.failed.load(Ordering::Relaxed),
            timed_out: i.timed_out.load(Ordering::Relaxed),
            connects: i.connects.load(Ordering::Relaxed),
        }
    }

    /// Runs one request on the shared connection, under the call timeout; a failure that
    /// means the server is unreachable drops the connection so that the next call reconnects.
    pub(crate) async fn call<T, F, Fut>(&self, request: F) -> Result<T, RedisError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        // The server's I/O is real: on virtual time, hold the clock while the call is in
        // flight so that no virtual timer (ours included) fires during a real round trip.
        // redis-rs's own timeouts (real time) bound the call there.
        let _hold = VirtualRuntime::try_current().map(|rt| rt.hold());
        let i = &self.inner;
        i.started.fetch_add(1, Ordering::Relaxed);
        let (generation, conn) = match self.connection().await {
            Ok(c) => c,
            Err(e) => {
                self.count(&e);
                return Err(e);
            }
        };
        let out = match i.rt.timeout(i.call_timeout, request(conn)).await {
            Ok(Ok(v)) => {
                i.completed.fetch_add(1, Ordering::Relaxed);
                return Ok(v);
            }
            Ok(Err(e)) => RedisError::from_client(e),
            Err(_) => RedisError::new(RedisErrorKind::TimedOut, "no reply within call timeout"),
        };
        if out.is_unavailable() {
            self.drop_connection(generation);
        }
        self.count(&out);
        Err(out)
    }

    fn count(&self, e: &RedisError) {
        let counter = if e.kind() == RedisErrorKind::TimedOut {
            &self.inner.timed_out
        } else {
            &self.inner.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Conn> {
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn drop_connection(&self, generation: u64) {
        let mut conn = self.lock();
        if conn.current.as_ref().is_some_and(|(g, _)| *g == generation) {
            conn.current = None;
        }
    }

    /// Whether this handle talks to a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        match self.inner.target {
            Target::Node(_) => false,
            #[cfg(feature = "cluster")]
            Target::Cluster(_) => true,
        }
    }

    async fn connection(&self) -> Result<(u64, Connection), RedisError> {
        let i = &self.inner;
        {
            let conn = self.lock();
            if let Some(current) = &conn.current {
                return Ok(current.clone());
            }
            if conn.retry_at.is_some_and(|at| i.rt.now() < at) {
                return Err(RedisError::new(
                    RedisErrorKind::Unavailable,
                    "the last connection attempt failed; waiting the reconnect delay",
                ));
            }
        }
        let attempt = async {
            match &i.target {
                Target::Node(client) => {
                    let config = AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(i.connect_timeout))
                        .set_response_timeout(Some(i.call_timeout));
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                        .map(Connection::Node)
                }
                #[cfg(feature = "cluster")]
                Target::Cluster(client) => {
                    client.get_async_connection().await.map(Connection::Cluster)
                }
            }
        };
        let result = match i.rt.timeout(i.connect_timeout, attempt).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(RedisError::from_client(e)),
            Err(_) => Err(RedisError::new(
                RedisErrorKind::TimedOut,
                "no connection within connect timeout",
            )),
        };
        let mut conn = self.lock();
        match result {
            Ok(c) => {
                i.connects.fetch_add(1, Ordering::Relaxed);
                conn.retry_at = None;
                if let Some(current) = &conn.current {
                    // Another call connected meanwhile: share its connection.
                    return Ok(current.clone());
                }
                conn.generation += 1;
                let current = (conn.generation, c);
                conn.current = Some(current.clone());
                Ok(current)
            }
            Err(e) => {
                conn.retry_at = i.rt.now().checked_add(i.reconnect_delay);
                Err(e)
            }
        }
    }
}

impl<R: Runtime> fmt::Debug for Redis<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("server", &self.inner.servers)
            .field("cluster", &self.is_cluster())
            .field("call_timeout", &self.inner.call_timeout)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
