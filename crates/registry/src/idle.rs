//! A connection that closes itself when no byte has moved either way for a while, so an idle
//! or stalled client cannot hold a connection (and its task) forever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `inner`, failing with `TimedOut` once `limit` passes without a byte read or written.
#[derive(Debug)]
pub(crate) struct IdleTimeout<S> {
    inner: S,
    limit: Duration,
    /// When a byte last moved.
    last_progress: Instant,
    /// A timer that fires no later than `last_progress + limit`. Progress only notes the time;
    /// the timer is moved on when it fires early, so a busy connection does not re-arm it on
    /// every read and write.
    deadline: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: S, limit: Duration) -> IdleTimeout<S> {
        IdleTimeout {
            inner,
            limit,
            last_progress: Instant::now(),
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }

    fn progress(&mut self) {
        self.last_progress = Instant::now();
    }

    /// `TimedOut` once `limit` passed since the last progress; otherwise registers for the
    /// timer and stays pending.
    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            let due = self.last_progress + self.limit;
            if due > Instant::now() {
                // Bytes moved since the timer was set: wait for the rest of the limit.
                self.deadline.as_mut().reset(due);
                if self.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            return Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection was idle too long",
            ));
        }
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.progress();
                }
                Poll::Ready(result)
            }
            Poll::Pending => match this.expired(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(Ok(written)) => {
                if written > 0 {
                    this.progress();
                }
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match this.expired(cx) {
                Poll::Ready(error) => Poll::Ready(Err(error)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::IdleTimeout;

    /// Bytes moving keep the connection open well past the limit; once they stop, it closes
    /// after the limit.
    #[tokio::test]
    async fn progress_keeps_a_connection_open_and_silence_closes_it() {
        let limit = Duration::from_secs(1);
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, limit);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let talker = tokio::spawn(async move {
            for _ in 0..15 {
                client_write.write_all(b"x").await.unwrap();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            client_write
        });
        let started = std::time::Instant::now();
        let mut byte = [0u8; 1];
        for _ in 0..15 {
            server.read_exact(&mut byte).await.unwrap();
            server.write_all(b"y").await.unwrap();
            client_read.read_exact(&mut byte).await.unwrap();
        }
        assert!(
            started.elapsed() > 2 * limit,
            "the talk outlasted the limit"
        );
        let _client_write = talker.await.unwrap();
        let silent = std::time::Instant::now();
        let error = server.read(&mut byte).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert!(silent.elapsed() >= Duration::from_millis(500));
    }
}
