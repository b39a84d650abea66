//! Requests in flight, so that the service's own work gives way to the people waiting on
//! an answer. The watchdog raises an alert on every case logged already due soon, each a
//! command as costly as the request that logged the case; raised at full speed beside a
//! steady stream of requests, the alerts took as much of the machine as the requests did,
//! and the requests queued behind them (`docs/benchmarks.md`). So while people are busy,
//! background work takes turns one at a time, each turn waits for a moment with no request
//! in flight (for a bounded time), and after each turn the next rests nine times as long as
//! it lasted: a tenth of the time at most. It is slowed while people are busy, never
//! stopped, and goes at full speed, several at once, once they are quiet. Letting every
//! waiting task go at each moment with nobody waiting, which comes every few milliseconds
//! between requests, still raised alerts about half as fast as cases were logged, and their
//! writes doubled the database's.

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

/// While people are busy, background work rests this many times as long as its last turn
/// lasted before the next turn: it takes a tenth of the time at most.
const REST: u32 = 9;

/// How many requests are being answered.
#[derive(Debug)]
pub struct InFlight {
    count: AtomicUsize,
    /// Woken each time the count falls to zero.
    none_left: Notify,
    /// When the last request was answered, in microseconds after `since`.
    last_answered: AtomicU64,
    since: Instant,
    /// Held by the one piece of background work that goes on while people are busy.
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

/// Background work's turn, held while that work runs: while people are busy, no other
/// background work gets a turn until it is dropped and the rest after it is over.
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
            let rest_until = self.in_flight.since.elapsed() + self.started.elapsed() * REST;
            self.in_flight
                .rested_at
                .store(micros(rest_until), Ordering::Release);
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
        let last = Duration::from_micros(self.last_answered.load(Ordering::Acquire));
        let answered_any = !last.is_zero();
        self.count() > 0 || (answered_any && self.since.elapsed() < last + QUIET)
    }

    /// Background work's turn: while people are busy, first the turn of any other
    /// background work must end, and the rest after it; then it comes as soon as no request
    /// is in flight, or once `longest` has passed, whichever is first.
    pub async fn turn(&self, longest: Duration) -> Turn<'_> {
        let held = if self.busy() {
            let held = self.one_at_a_time.lock().await;
            let rested = Duration::from_micros(self.rested_at.load(Ordering::Acquire));
            tokio::time::sleep_until(self.since + rested).await;
            Some(held)
        } else {
            None
        };
        let turn = |one_at_a_time| Turn {
            one_at_a_time,
            in_flight: self,
            started: Instant::now(),
        };
        let deadline = Instant::now() + longest;
        let none_left = self.none_left.notified();
        tokio::pin!(none_left);
        loop {
            // Registered before the count is read, so a fall to zero in between still wakes it.
            none_left.as_mut().enable();
            if self.count() == 0 {
                return turn(held);
            }
            if tokio::time::timeout_at(deadline, none_left.as_mut())
                .await
                .is_err()
            {
                return turn(held);
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
#[allow(clippy::unwrap_used)]
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

    /// While a request is in flight, a second piece of background work waits for the first
    /// one's turn to end, rests nine times as long as that turn lasted, and then waits for
    /// its own moment, up to its own bound.
    #[tokio::test(start_paused = true)]
    async fn while_people_are_busy_background_work_takes_turns_one_at_a_time() {
        let in_flight = Arc::new(InFlight::default());
        let _busy = in_flight.enter();
        let started = tokio::time::Instant::now();
        let first = in_flight.turn(Duration::from_millis(100)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(100));
        let waiting = in_flight.clone();
        let second = tokio::spawn(async move {
            let _turn = waiting.turn(Duration::from_millis(100)).await;
            tokio::time::Instant::now()
        });
        // The first turn's work lasts 10 ms.
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!second.is_finished(), "waits while the first turn is held");
        drop(first);
        let second_at = second.await.unwrap();
        // 100 ms waiting, 10 ms of work, 90 ms of rest, 100 ms waiting.
        assert_eq!(second_at - started, Duration::from_millis(300));
    }

    /// A request answered a moment ago still counts as people being busy; once they have
    /// been quiet for a while, pieces of background work no longer wait on each other.
    #[tokio::test(start_paused = true)]
    async fn after_a_quiet_spell_background_work_runs_side_by_side() {
        let in_flight = Arc::new(InFlight::default());
        let quiet_from_start = [
            in_flight.turn(Duration::from_secs(5)).await,
            in_flight.turn(Duration::from_secs(5)).await,
        ];
        drop(quiet_from_start);
        drop(in_flight.enter());
        tokio::time::sleep(QUIET / 2).await;
        let first = in_flight.turn(Duration::from_secs(5)).await;
        let waiting = in_flight.clone();
        let second = tokio::spawn(async move {
            let _turn = waiting.turn(Duration::from_secs(5)).await;
        });
        tokio::time::sleep(QUIET).await;
        assert!(!second.is_finished(), "just after an answer, one at a time");
        drop(first);
        second.await.unwrap();
        tokio::time::sleep(QUIET).await;
        let started = tokio::time::Instant::now();
        let both = [
            in_flight.turn(Duration::from_secs(5)).await,
            in_flight.turn(Duration::from_secs(5)).await,
        ];
        assert_eq!(started.elapsed(), Duration::ZERO, "side by side once quiet");
        drop(both);
    }
}
