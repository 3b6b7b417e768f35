//! Criterion benchmarks of wrangle against its peers. See `docs/benchmarks.md`.
//!
//! Each scenario is one benchmark group named as in `docs/benchmarks.md`; inside it the
//! function `wrangle` (or `wrangle_<peer>` when one group holds several adapters) is ours and
//! every other function is a peer, measured in the same run.

/// The io healthy path's pieces, shared by `benches/io.rs` and `examples/io_echo_cg.rs`.
pub mod echo {
    use std::hint::black_box;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    /// Bytes per frame.
    pub const FRAME: usize = 64;
    /// Frames per batch (one write, then reads until the batch came back).
    pub const BATCH: usize = 100;

    /// Serves `listener` for ever: every connection echoed by its own blocking thread.
    pub fn serve(listener: TcpListener) {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            conn.set_nodelay(true).unwrap();
            std::thread::spawn(move || {
                let mut buf = [0; 16 * 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    }

    /// Writes `batches` batches of frames and reads each one's echo back.
    pub async fn frames<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, batches: usize) {
        let batch = [7_u8; FRAME * BATCH];
        let mut back = [0_u8; FRAME * BATCH];
        for _ in 0..batches {
            stream.write_all(&batch).await.unwrap();
            stream.read_exact(&mut back).await.unwrap();
        }
        black_box(&back);
    }
}

/// The command line of the callgrind examples (`examples/*_cg.rs`): which loop to run (all of
/// them without one) and how many times (1 without a count; more for a sampling profiler).
pub mod cg {
    /// `(which, repeats)` from `<example> [which] [repeats]`.
    ///
    /// # Panics
    ///
    /// If `repeats` is given and is not a number.
    #[must_use]
    pub fn args() -> (Option<String>, usize) {
        let mut args = std::env::args().skip(1);
        let which = args.next();
        let repeats = args
            .next()
            .map_or(1, |n| n.parse().expect("a repeat count"));
        (which, repeats)
    }
}
