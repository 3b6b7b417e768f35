//! TLS (`rediss://`) against a real TLS-only `redis-server`, with certificates made by
//! `openssl` for the test, on every runtime: a private CA trusted through the builder, an
//! untrusted server refused, plain text refused, mutual TLS, and bad certificates refused
//! when the handle is built. Without the `tls` feature, a `rediss://` URL is refused.

mod common;

#[cfg(not(feature = "tls"))]
#[test]
fn tls_url_without_the_feature_is_refused_at_build() {
    use wrangle_redis::Redis;
    wrangle_rt::VirtualRuntime::new().block_on(async {
        let err = Redis::open("rediss://127.0.0.1:6380/").unwrap_err();
        assert!(err.to_string().contains("`tls` feature"), "{err}");
        // Plain URLs are unaffected.
        assert!(Redis::open("redis://127.0.0.1:6379/").is_ok());
    });
}

#[cfg(feature = "tls")]
mod tls {
    use std::time::Duration;

    use super::common::{Certificates, TlsServer, lease_round_trip, string_cache, unique};
    use wrangle_redis::{
        Redis, RedisBuilder, RedisErrorKind, RedisLease, RedisLimitError, RedisLimiter,
        RedisLockout,
    };
    use wrangle_rt::DefaultRuntime;
    use wrangle_rt::testing::each_runtime;

    fn handle(rt: DefaultRuntime, builder: RedisBuilder<DefaultRuntime>) -> Redis<DefaultRuntime> {
        builder
            .runtime(rt)
            .call_timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    fn limiter(redis: Redis<DefaultRuntime>) -> RedisLimiter<DefaultRuntime> {
        let one = std::num::NonZeroU32::new(1).unwrap();
        RedisLimiter::builder(redis, one, Duration::from_secs(3600))
            .prefix(unique("tls-limiter"))
            .build()
            .unwrap()
    }

    #[test]
    fn tls_private_ca_serves_every_primitive() {
        let certs = Certificates::new();
        let server = TlsServer::start(&certs, false);
        let ca = certs.pem("ca.crt");
        each_runtime(|rt| {
            let (url, ca) = (server.url(), ca.clone());
            async move {
                let redis = handle(
                    rt.clone(),
                    Redis::builder(&url).tls_root_certificate(ca.clone()),
                );
                // Limiter: one per hour, so the second check is refused by the server.
                let limiter = limiter(redis.clone());
                limiter.check("k").await.unwrap();
                assert!(matches!(
                    limiter.check("k").await,
                    Err(RedisLimitError::Limited { .. })
                ));
                // Lease with fencing tokens.
                lease_round_trip(&redis, &unique("tls-lease")).await;
                // Lockout.
                let lockout = RedisLockout::new(redis.clone(), unique("tls-lockout"));
                lockout
                    .lockout_for("k", Duration::from_secs(60))
                    .await
                    .unwrap();
                assert!(lockout.remaining("k").await.unwrap().is_some());
                // Shared cache: a second replica (its own handle, its own TLS connection)
                // reads the first one's value from Redis instead of loading it.
                let prefix = unique("tls-cache");
                let cache = |redis: Redis<DefaultRuntime>| string_cache(redis, &prefix);
                let first = cache(redis.clone());
                let value = first
                    .get("k".to_owned(), || async { Ok::<_, String>("v".to_owned()) })
                    .await
                    .unwrap();
                assert_eq!(value, "v");
                let other = handle(rt.clone(), Redis::builder(&url).tls_root_certificate(ca));
                let second = cache(other.clone());
                let value = second
                    .get("k".to_owned(), || async {
                        Err::<String, _>("loaded again".to_owned())
                    })
                    .await
                    .unwrap();
                assert_eq!(value, "v");
                assert_eq!(second.stats().remote_hits, 1);
                // One TLS connection per handle, nothing failed.
                for r in [&redis, &other] {
                    let stats = r.stats();
                    assert_eq!(stats.connects, 1, "{stats:?}");
                    assert_eq!(stats.failed + stats.timed_out, 0, "{stats:?}");
                }
            }
        });
    }

    #[test]
    fn tls_untrusted_or_plain_text_is_a_typed_error() {
        let certs = Certificates::new();
        let server = TlsServer::start(&certs, false);
        each_runtime(|rt| {
            let (url, plain) = (server.url(), server.plain_url());
            async move {
                // The system's roots do not include the test's CA: the handshake fails.
                let untrusted = handle(rt.clone(), Redis::builder(&url));
                let err = RedisLease::try_acquire(&untrusted, "k", Duration::from_secs(1))
                    .await
                    .unwrap_err();
                assert_eq!(err.kind(), RedisErrorKind::Unavailable, "{err}");
                // Plain text to a TLS port: refused, not hung (the call timeout bounds it
                // at the latest).
                let plain = handle(rt.clone(), Redis::builder(&plain));
                let err = RedisLease::try_acquire(&plain, "k", Duration::from_secs(1))
                    .await
                    .unwrap_err();
                assert!(
                    matches!(
                        err.kind(),
                        RedisErrorKind::Unavailable | RedisErrorKind::TimedOut
                    ),
                    "{err}"
                );
                for r in [&untrusted, &plain] {
                    let stats = r.stats();
                    assert_eq!(stats.completed, 0, "{stats:?}");
                    assert_eq!(stats.failed + stats.timed_out, 1, "{stats:?}");
                }
            }
        });
    }

    #[test]
    fn tls_mutual_needs_the_client_certificate() {
        let certs = Certificates::new();
        let server = TlsServer::start(&certs, true);
        let (ca, cert, key) = (
            certs.pem("ca.crt"),
            certs.pem("client.crt"),
            certs.pem("client.key"),
        );
        each_runtime(|rt| {
            let url = server.url();
            let (ca, cert, key) = (ca.clone(), cert.clone(), key.clone());
            async move {
                let anonymous = handle(
                    rt.clone(),
                    Redis::builder(&url).tls_root_certificate(ca.clone()),
                );
                let lockout = RedisLockout::new(anonymous, unique("mtls"));
                assert!(lockout.remaining("k").await.is_err());
                let known = handle(
                    rt.clone(),
                    Redis::builder(&url)
                        .tls_root_certificate(ca)
                        .tls_client_certificate(cert, key),
                );
                let lockout = RedisLockout::new(known.clone(), unique("mtls"));
                lockout
                    .lockout_for("k", Duration::from_secs(60))
                    .await
                    .unwrap();
                assert!(lockout.remaining("k").await.unwrap().is_some());
                assert_eq!(known.stats().connects, 1);
            }
        });
    }

    #[test]
    fn tls_bad_certificates_are_refused_at_build() {
        let certs = Certificates::new();
        let (ca, cert, key) = (
            certs.pem("ca.crt"),
            certs.pem("client.crt"),
            certs.pem("client.key"),
        );
        wrangle_rt::VirtualRuntime::new().block_on(async {
            let url = "rediss://127.0.0.1:6380/";
            let err = Redis::builder(url)
                .tls_root_certificate(b"/etc/ssl/ca.pem".to_vec())
                .build()
                .unwrap_err();
            assert!(err.to_string().contains("root certificate"), "{err}");
            // A key where the certificate belongs, and the other way round.
            let err = Redis::builder(url)
                .tls_client_certificate(key.clone(), key.clone())
                .build()
                .unwrap_err();
            assert!(err.to_string().contains("client certificate"), "{err}");
            let err = Redis::builder(url)
                .tls_client_certificate(cert.clone(), cert.clone())
                .build()
                .unwrap_err();
            assert!(err.to_string().contains("client key"), "{err}");
            // The real ones are accepted, and nothing connects yet.
            let redis = Redis::builder(url)
                .tls_root_certificate(ca)
                .tls_client_certificate(cert, key)
                .build()
                .unwrap();
            assert_eq!(redis.stats().connects, 0);
            // The password in a URL stays out of Debug.
            let redis = Redis::open("rediss://user:secret@127.0.0.1:6380/").unwrap();
            let shown = format!("{redis:?}");
            assert!(
                !shown.contains("secret") && shown.contains("127.0.0.1:6380"),
                "{shown}"
            );
        });
    }
}
