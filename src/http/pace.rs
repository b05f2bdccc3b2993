//! The pace shared by every clone of a client: an instant before which no request is
//! sent, set by a 429's `Retry-After`, so that pipelines run side by side wait together
//! when the platform says it is rate-limiting.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The instant before which no request is sent, shared by every clone of a client: set
/// by a 429's `Retry-After`, so that the platform's rate limit holds for everybody.
#[derive(Debug, Default)]
pub(crate) struct Pace(Mutex<Option<Instant>>);

impl Pace {
    /// No request before `at` (a later instant already set stays).
    pub(crate) fn hold_until(&self, at: Instant) {
        let mut not_before = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if not_before.is_none_or(|t| t < at) {
            *not_before = Some(at);
        }
    }

    /// How long a request must still wait at `now`.
    pub(crate) fn left(&self, now: Instant) -> Option<Duration> {
        let not_before = self.0.lock().unwrap_or_else(|e| e.into_inner());
        not_before
            .filter(|t| *t > now)
            .map(|t| t.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_instant_wins() {
        let pace = Pace::default();
        let t0 = Instant::now();
        assert_eq!(pace.left(t0), None);
        pace.hold_until(t0 + Duration::from_secs(5));
        pace.hold_until(t0 + Duration::from_secs(2));
        assert_eq!(pace.left(t0), Some(Duration::from_secs(5)));
        assert_eq!(pace.left(t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn a_429_holds_back_every_clone_of_the_client() {
        use crate::clock::{Clock, SimClock};
        use crate::http::{Budget, Http, HttpError, NoAuth, Request};
        let mut server = mockito::Server::new();
        let limited = server
            .mock("GET", "/a")
            .with_status(429)
            .with_header("Retry-After", "30")
            .expect(1)
            .create();
        let other = server.mock("GET", "/b").with_body("{}").expect(1).create();
        let clock = SimClock::new();
        let http = Http::new(clock.clone());
        let twin = http.clone().with_clock(clock.clone());
        // Told to wait longer than its budget: it waits to its deadline and gives up...
        let short = Budget::until(clock.now() + Duration::from_secs(10));
        let got = http.send(
            &Request::get(format!("{}/a", server.url()), "a"),
            &NoAuth,
            short,
        );
        assert!(matches!(got, Err(HttpError::Deadline(_))), "{got:?}");
        assert_eq!(clock.sleeps(), [Duration::from_secs(10)]);
        // ...and the other pipeline's next request waits out the rest of the Retry-After.
        let long = Budget::until(clock.now() + Duration::from_secs(60));
        let got = twin.send(
            &Request::get(format!("{}/b", server.url()), "b"),
            &NoAuth,
            long,
        );
        assert!(got.is_ok(), "{got:?}");
        assert_eq!(
            clock.sleeps(),
            [Duration::from_secs(10), Duration::from_secs(20)]
        );
        limited.assert();
        other.assert();
    }
}
