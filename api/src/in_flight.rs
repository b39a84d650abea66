//! Requests in flight, so that the service's own work gives way to the people waiting on
//! an answer. The watchdog raises an alert on every case logged already due soon, each a
//! command as costly as the request that logged the case; raised at full speed beside a
//! steady stream of requests, the alerts took as much of the machine as the requests did,
//! and the requests queued behind them (`docs/benchmarks.md`). So each of the watchdog's
//! commands first waits for a moment with no request in flight, for a bounded time: it is
//! slowed while people are busy, never stopped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Notify;

/// How many requests are being answered.
#[derive(Debug, Default)]
pub struct InFlight {
    count: AtomicUsize,
    /// Woken each time the count falls to zero.
    none_left: Notify,
}

impl InFlight {
    /// Counts a request in flight until the returned guard is dropped.
    pub fn enter(self: &Arc<Self>) -> Answering {
        self.count.fetch_add(1, Ordering::AcqRel);
        Answering(self.clone())
    }

    /// Requests being answered now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Returns as soon as no request is in flight, or once `longest` has passed, whichever
    /// comes first: background work waits its turn, but never longer than that.
    pub async fn turn(&self, longest: Duration) {
        let deadline = tokio::time::Instant::now() + longest;
        let none_left = self.none_left.notified();
        tokio::pin!(none_left);
        loop {
            // Registered before the count is read, so a fall to zero in between still wakes it.
            none_left.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, none_left.as_mut())
                .await
                .is_err()
            {
                return;
            }
            none_left.set(self.none_left.notified());
        }
    }
}

/// One request counted in flight; dropping it counts the request answered.
#[derive(Debug)]
pub struct Answering(Arc<InFlight>);

impl Drop for Answering {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none_left.notify_waiters();
        }
    }
}

/// Middleware: counts every request in flight until its response is ready to send.
pub async fn track(
    State(in_flight): State<Arc<InFlight>>,
    request: Request,
    next: Next,
) -> Response {
    let _answering = in_flight.enter();
    next.run(request).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_turn_comes_at_once_when_nobody_waits() {
        let in_flight = Arc::new(InFlight::default());
        let started = tokio::time::Instant::now();
        in_flight.turn(Duration::from_secs(5)).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_comes_when_the_last_request_is_answered() {
        let in_flight = Arc::new(InFlight::default());
        let first = in_flight.enter();
        let second = in_flight.enter();
        assert_eq!(in_flight.count(), 2);
        let started = tokio::time::Instant::now();
        let answer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            drop(first);
            tokio::time::sleep(Duration::from_millis(40)).await;
            drop(second);
        });
        in_flight.turn(Duration::from_secs(5)).await;
        // Not at the first answer (one still in flight), but at the second.
        assert_eq!(started.elapsed(), Duration::from_millis(70));
        assert_eq!(in_flight.count(), 0);
        answer.await.unwrap();
    }

    #[tokio::test]
    async fn a_request_is_counted_until_it_is_answered() {
        use axum::body::{to_bytes, Body};
        use tower::ServiceExt;

        let in_flight = Arc::new(InFlight::default());
        let seen = in_flight.clone();
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(move || async move { seen.count().to_string() }),
            )
            .layer(axum::middleware::from_fn_with_state(
                in_flight.clone(),
                track,
            ));
        let response = app
            .oneshot(Request::builder().uri("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = to_bytes(response.into_body(), 16).await.unwrap();
        assert_eq!(&body[..], b"1", "counted while its handler ran");
        assert_eq!(in_flight.count(), 0, "and no longer once answered");
    }

    #[tokio::test(start_paused = true)]
    async fn a_turn_never_waits_longer_than_asked() {
        let in_flight = Arc::new(InFlight::default());
        let _busy = in_flight.enter();
        let started = tokio::time::Instant::now();
        in_flight.turn(Duration::from_millis(100)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        assert_eq!(in_flight.count(), 1);
    }
}
