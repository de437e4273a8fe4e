//! The future the synchronous layers return: the inner service's, with one last step on its
//! response.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::response::Response;
use pin_project_lite::pin_project;

/// A last step on a response, taken once when the inner service answers.
pub(crate) trait Finish {
    /// Takes the step.
    fn finish(self, response: &mut Response);
}

pin_project! {
    /// The inner future, then [`Finish::finish`] on its response.
    pub(crate) struct Finishing<F, T> {
        #[pin]
        inner: F,
        step: Option<T>,
    }
}

impl<F, T> Finishing<F, T> {
    /// `inner`, then `step`.
    pub(crate) fn new(inner: F, step: T) -> Finishing<F, T> {
        Finishing {
            inner,
            step: Some(step),
        }
    }
}

impl<F, T, E> Future for Finishing<F, T>
where
    F: Future<Output = Result<Response, E>>,
    T: Finish,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut outcome = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(step)) = (&mut outcome, this.step.take()) {
            step.finish(response);
        }
        Poll::Ready(outcome)
    }
}
