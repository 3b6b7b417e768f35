//! `MessageEnd` (the in-memory message pipe) is a `FusedStream`: terminated once the other end
//! stopped sending and everything it sent was read.

use futures_core::stream::FusedStream;
use futures_lite::StreamExt;
use wrangle_rt::testing::each_runtime;

#[test]
fn message_end_is_terminated_once_the_other_end_closed_and_it_was_drained() {
    each_runtime(|_rt| async move {
        let (mut a, mut b) = wrangle_io::pipe::message_pipe::<u8>(4);
        a.try_send(1).unwrap();
        assert!(!b.is_terminated());
        drop(a);
        // Closed, with one message still to read.
        assert!(!b.is_terminated());
        assert_eq!(b.next().await.unwrap().unwrap(), 1);
        assert!(b.is_terminated());
        assert!(b.next().await.is_none());
    });
}
