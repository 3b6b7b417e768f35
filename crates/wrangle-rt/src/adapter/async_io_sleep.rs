use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::Sleep;

/// The sleep of the smol and async-std adapters: an `async_io::Timer`, which runs under any
/// executor.
pub struct AsyncIoSleep {
    timer: async_io::Timer,
    deadline: Instant,
    fired: bool,
}

impl AsyncIoSleep {
    pub(crate) fn at(deadline: Instant) -> Self {
        AsyncIoSleep {
            timer: async_io::Timer::at(deadline),
            deadline,
            fired: false,
        }
    }
}

impl fmt::Debug for AsyncIoSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncIoSleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.fired {
            return Poll::Ready(());
        }
        match Pin::new(&mut self.timer).poll(cx) {
            Poll::Ready(_) => {
                self.fired = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Sleep for AsyncIoSleep {
    fn reset(mut self: Pin<&mut Self>, deadline: Instant) {
        self.deadline = deadline;
        self.fired = false;
        self.timer.set_at(deadline);
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }
}
