//! Requests in flight, so that the service's own work gives way to the people waiting on
//! an answer. The watchdog raises an alert on every case logged already due soon, each a
//! command as costly as the request that logged the case; raised at full speed beside a
//! steady stream of requests, the alerts took as much of the machine as the requests did,
//! and the requests queued behind them (`docs/benchmarks.md`). So each of the watchdog's
//! commands and reads waits for a moment with no request in flight (for a bounded time);
//! and while people are busy they take turns one at a time, the next resting nine times as
//! long as the last one lasted (at most a second): a tenth of the time at most. The
//! watchdog is slowed while people are busy, never stopped, and goes at full speed, several
//! at once, as soon as they have been quiet for a moment. Letting all its waiting tasks go
//! at each moment with nobody waiting, which comes every few milliseconds between requests,
//! still raised alerts at a fifth of the commands of an open loop at half of the peak.
//! Notification deliveries wait for such a moment only, as they did.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::{Mutex, MutexGuard, Notify};
use tokio::time::Instant;

/// How long after the last answer people still count as busy: longer than the gap between
/// requests in any steady stream worth giving way to.
const QUIET: Duration = Duration::from_millis(50);

/// While people are busy, the next turn rests this many times as long as the last one
/// lasted: background work takes a tenth of the time at most.
const REST: u32 = 9;

/// The longest rest, so that one slow command (a pool waiting out its acquire timeout)
/// does not hold the watchdog back for long after it.
const LONGEST_REST: Duration = Duration::from_secs(1);

/// How many requests are being answered.
#[derive(Debug)]
pub struct InFlight {
    count: AtomicUsize,
    /// Woken each time the count falls to zero.
    none_left: Notify,
    /// When the last request was answered, in microseconds after `since`.
    last_answered: AtomicU64,
    since: Instant,
    /// Held by the one turn that goes on while people are busy.
    one_at_a_time: Mutex<()>,
    /// When the next turn may come while people are busy, in microseconds after `since`.
    rested_at: AtomicU64,
}

impl Default for InFlight {
    fn default() -> Self {
        Self {
            count: AtomicUsize::new(0),
            none_left: Notify::new(),
            last_answered: AtomicU64::new(0),
            since: Instant::now(),
            one_at_a_time: Mutex::new(()),
            rested_at: AtomicU64::new(0),
        }
    }
}

/// The watchdog's turn, held while the work it was waited for runs: while people are busy,
/// no other turn comes until it is dropped and the rest after it is over.
#[must_use = "a turn is held while the work it was waited for runs"]
#[derive(Debug)]
pub struct Turn<'a> {
    /// Held while people are busy.
    one_at_a_time: Option<MutexGuard<'a, ()>>,
    in_flight: &'a InFlight,
    started: Instant,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.one_at_a_time.is_some() {
            let rest = (self.started.elapsed() * REST).min(LONGEST_REST);
            let rested_at = self.in_flight.since.elapsed() + rest;
            self.in_flight
                .rested_at
                .store(micros(rested_at), Ordering::Release);
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
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

    /// Whether a request is being answered or was answered less than [`QUIET`] ago.
    fn busy(&self) -> bool {
        // The count first: an answer that ends between the two reads has already moved
        // `last_answered` (it does so before counting itself out).
        if self.count() > 0 {
            return true;
        }
        let last = Duration::from_micros(self.last_answered.load(Ordering::Acquire));
        !last.is_zero() && self.since.elapsed() < last + QUIET
    }

    /// The watchdog's turn: while people are busy, first the turn before must end, and the
    /// rest after it (which ends early once they are quiet); then a moment with no request
    /// in flight, or `longest`, whichever comes first ([`Self::moment`]).
    pub async fn turn(&self, longest: Duration) -> Turn<'_> {
        let mut held = None;
        if self.busy() {
            let guard = self.one_at_a_time.lock().await;
            if self.rest().await {
                held = Some(guard);
            }
        }
        self.moment(longest).await;
        Turn {
            one_at_a_time: held,
            in_flight: self,
            started: Instant::now(),
        }
    }

    /// Waits out the rest after the last turn, looking every [`QUIET`] whether people are
    /// still busy; whether they still are at its end.
    async fn rest(&self) -> bool {
        let rested_at = self.since + Duration::from_micros(self.rested_at.load(Ordering::Acquire));
        loop {
            let now = Instant::now();
            if now >= rested_at {
                return self.busy();
            }
            tokio::time::sleep_until(rested_at.min(now + QUIET)).await;
            if !self.busy() {
                return false;
            }
        }
    }

    /// Returns as soon as no request is in flight, or once `longest` has passed, whichever
    /// comes first: background work waits its turn, but never longer than that.
    pub async fn moment(&self, longest: Duration) {
        let deadline = Instant::now() + longest;
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
        // At least 1, so that "never answered" stays apart.
        let at = micros(self.0.since.elapsed()).max(1);
        self.0.last_answered.fetch_max(at, Ordering::AcqRel);
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
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_turn_comes_at_once_when_nobody_waits() {
        let in_flight = Arc::new(InFlight::default());
        let started = tokio::time::Instant::now();
        let _turn = in_flight.turn(Duration::from_secs(5)).await;
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
        let _turn = in_flight.turn(Duration::from_secs(5)).await;
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
        let _turn = in_flight.turn(Duration::from_millis(100)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        assert_eq!(in_flight.count(), 1);
    }

    /// While a request is in flight, turns come one at a time: each after the one before
    /// has ended and rested nine times as long as it lasted, then after its own wait for a
    /// moment, up to its bound.
    #[tokio::test(start_paused = true)]
    async fn while_people_are_busy_turns_come_one_at_a_time_with_a_rest_between() {
        let in_flight = Arc::new(InFlight::default());
        let _busy = in_flight.enter();
        let started = tokio::time::Instant::now();
        let first = in_flight.turn(Duration::from_millis(100)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        let next = |work: u64| {
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                let turn = in_flight.turn(Duration::from_millis(100)).await;
                let at = tokio::time::Instant::now();
                tokio::time::sleep(Duration::from_millis(work)).await;
                drop(turn);
                at
            })
        };
        let second = next(10);
        tokio::time::sleep(Duration::from_millis(1)).await;
        let third = next(0);
        // The first turn's work lasts 30 ms.
        tokio::time::sleep(Duration::from_millis(29)).await;
        drop(first);
        // 100 ms waiting, 30 of work, 270 of rest, 100 waiting; then 10 of work, 90 of
        // rest, 100 waiting.
        assert_eq!(second.await.unwrap() - started, Duration::from_millis(500));
        assert_eq!(third.await.unwrap() - started, Duration::from_millis(700));
    }

    /// One long turn makes the next rest a second, not nine times as long.
    #[tokio::test(start_paused = true)]
    async fn a_rest_lasts_a_second_at_most() {
        let in_flight = Arc::new(InFlight::default());
        let _busy = in_flight.enter();
        let started = tokio::time::Instant::now();
        let first = in_flight.turn(Duration::ZERO).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(first);
        let _second = in_flight.turn(Duration::ZERO).await;
        assert_eq!(started.elapsed(), Duration::from_secs(6));
    }

    /// People count as busy until [`QUIET`] after the last answer. A turn waiting behind
    /// another stops resting once they are quiet, and once quiet, turns come side by side.
    #[tokio::test(start_paused = true)]
    async fn once_people_are_quiet_turns_come_side_by_side() {
        let in_flight = Arc::new(InFlight::default());
        let never_answered = tokio::time::timeout(Duration::from_secs(1), async {
            let both = [
                in_flight.turn(Duration::from_secs(5)).await,
                in_flight.turn(Duration::from_secs(5)).await,
            ];
            drop(both);
        });
        never_answered
            .await
            .expect("side by side before any request");

        // Not at the clock's start, where an answer counts as a microsecond after it.
        tokio::time::sleep(Duration::from_millis(1)).await;
        let answered = tokio::time::Instant::now();
        drop(in_flight.enter());
        tokio::time::sleep(QUIET - Duration::from_millis(1)).await;
        assert!(in_flight.busy(), "just inside the quiet spell");
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(!in_flight.busy(), "at its end");

        drop(in_flight.enter());
        let answered_again = tokio::time::Instant::now();
        let first = in_flight.turn(Duration::from_secs(5)).await;
        let waiting = in_flight.clone();
        let second = tokio::spawn(async move {
            let _turn = waiting.turn(Duration::from_secs(5)).await;
            tokio::time::Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!second.is_finished(), "waits while the first turn is held");
        drop(first);
        // The rest would last 180 ms; it ends at the first look after the quiet spell.
        let second_at = second.await.unwrap();
        assert_eq!(second_at - answered_again, Duration::from_millis(70));
        assert!(second_at - answered > QUIET);

        let side_by_side = tokio::time::timeout(Duration::from_secs(1), async {
            let started = tokio::time::Instant::now();
            let both = [
                in_flight.turn(Duration::from_secs(5)).await,
                in_flight.turn(Duration::from_secs(5)).await,
            ];
            let elapsed = started.elapsed();
            drop(both);
            elapsed
        });
        assert_eq!(
            side_by_side.await.expect("side by side once quiet"),
            Duration::ZERO
        );
    }
}
