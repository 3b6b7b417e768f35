//! [`RedisCodec`]: how a [`RedisCache`](crate::RedisCache) turns values into bytes and back.

use std::convert::Infallible;

/// Turns values into the bytes stored in Redis, and back: supplied by you (serde with the
/// format of your choice, protobuf, a hand-written layout), so this crate depends on no
/// serialization library.
///
/// Every replica must use the same codec for the same key prefix. A codec is called under
/// `catch_unwind`: a panic is an error of the call
/// ([`RedisCacheError::Panicked`](crate::RedisCacheError::Panicked)), never the cache's
/// death. Its errors are typed: [`RedisCacheError::Encode`](crate::RedisCacheError::Encode)
/// and [`RedisCacheError::Decode`](crate::RedisCacheError::Decode) carry them.
///
/// # Examples
///
/// A versioned layout for a small struct: a value written by an older release fails to
/// decode with a typed error instead of being misread.
///
/// ```
/// use wrangle_redis::RedisCodec;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Price {
///     cents: u64,
///     currency: [u8; 3],
/// }
///
/// #[derive(Debug)]
/// struct BadPrice;
///
/// impl std::fmt::Display for BadPrice {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("not a version-1 price")
///     }
/// }
///
/// impl std::error::Error for BadPrice {}
///
/// struct PriceCodec;
///
/// impl RedisCodec<Price> for PriceCodec {
///     type Error = BadPrice;
///
///     fn encode(&self, p: &Price) -> Result<Vec<u8>, BadPrice> {
///         let mut out = vec![1]; // version
///         out.extend_from_slice(&p.cents.to_le_bytes());
///         out.extend_from_slice(&p.currency);
///         Ok(out)
///     }
///
///     fn decode(&self, bytes: &[u8]) -> Result<Price, BadPrice> {
///         match bytes {
///             [1, rest @ ..] if rest.len() == 11 => Ok(Price {
///                 cents: u64::from_le_bytes(rest[..8].try_into().unwrap()),
///                 currency: rest[8..].try_into().unwrap(),
///             }),
///             _ => Err(BadPrice),
///         }
///     }
/// }
///
/// let p = Price { cents: 1999, currency: *b"EUR" };
/// let bytes = PriceCodec.encode(&p).unwrap();
/// assert_eq!(PriceCodec.decode(&bytes).unwrap(), p);
/// assert!(PriceCodec.decode(b"{\"cents\":1999}").is_err());
/// ```
pub trait RedisCodec<V>: Send + Sync + 'static {
    /// Why a value could not be encoded or decoded.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The bytes to store for `value`.
    ///
    /// # Errors
    ///
    /// When `value` cannot be represented: the load that produced it then fails with
    /// [`RedisCacheError::Encode`](crate::RedisCacheError::Encode) and nothing is stored.
    fn encode(&self, value: &V) -> Result<Vec<u8>, Self::Error>;

    /// The value stored as `bytes`.
    ///
    /// # Errors
    ///
    /// When `bytes` are not a value of this codec (another format, a corrupt or foreign
    /// value): the call fails with [`RedisCacheError::Decode`](crate::RedisCacheError::Decode).
    fn decode(&self, bytes: &[u8]) -> Result<V, Self::Error>;
}

/// Stores `Vec<u8>` values as they are.
///
/// # Examples
///
/// ```
/// use wrangle_redis::{BytesCodec, RedisCodec};
///
/// let bytes = vec![0, 255, 10];
/// assert_eq!(BytesCodec.decode(&BytesCodec.encode(&bytes).unwrap()).unwrap(), bytes);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl RedisCodec<Vec<u8>> for BytesCodec {
    type Error = Infallible;

    fn encode(&self, value: &Vec<u8>) -> Result<Vec<u8>, Infallible> {
        Ok(value.clone())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>, Infallible> {
        Ok(bytes.to_vec())
    }
}

/// Stores `String` values as UTF-8; bytes that are not UTF-8 fail to decode.
///
/// # Examples
///
/// ```
/// use wrangle_redis::{RedisCodec, Utf8Codec};
///
/// assert_eq!(Utf8Codec.decode(b"caf\xc3\xa9").unwrap(), "café");
/// assert!(Utf8Codec.decode(b"\xff\xfe").is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Utf8Codec;

impl RedisCodec<String> for Utf8Codec {
    type Error = std::str::Utf8Error;

    fn encode(&self, value: &String) -> Result<Vec<u8>, std::str::Utf8Error> {
        Ok(value.as_bytes().to_vec())
    }

    fn decode(&self, bytes: &[u8]) -> Result<String, std::str::Utf8Error> {
        std::str::from_utf8(bytes).map(str::to_owned)
    }
}
