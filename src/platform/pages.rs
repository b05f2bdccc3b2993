//! The pages of a paged list after the first, fetched several at a time: at most
//! [`IN_FLIGHT`] requests at once (scoped threads sharing the client's keep-alive agent),
//! the results handed back in page order. The caller's page loop keeps its own stopping
//! rules and reads the pages from here as if it had fetched them one by one; pages past
//! a failure are not asked for.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Requests in flight at once (the calling thread is one of them); the agent keeps as
/// many connections alive. With 50 ms of server latency per page, 300 pages take 300 × 50
/// ms / 12 = 1.25 s (15 s one by one).
pub const IN_FLIGHT: usize = crate::http::KEEP_ALIVE_PER_HOST;

/// The pages fetched ahead at once hold at most about this many bytes: the window is
/// [`IN_FLIGHT`] pages of ordinary size, fewer when the pages seen so far are large (see
/// [`window`]), so a server that sends huge pages cannot fill the memory with them.
pub(crate) const WINDOW_BYTES: usize = 8 << 20;

/// How many pages to fetch at once when the largest page seen so far was `largest` bytes.
pub(crate) fn window(largest: usize) -> usize {
    (WINDOW_BYTES / largest.max(1)).clamp(1, IN_FLIGHT)
}

/// At most this many pages are fetched ahead; past them the caller's loop goes on one page
/// at a time (a `total` that claims millions of items fetches no more at once).
pub(crate) const MAX_AHEAD: usize = 1000;

/// Pages `first..end` (at most [`MAX_AHEAD`] of them), by `fetch_one(page)`, at most
/// [`IN_FLIGHT`] at a time. In page order; it ends at the first error (included): the
/// pages after it are not needed, and none are handed out once it is known.
pub(crate) fn fetch_pages<T: Send, E: Send>(
    first: usize,
    end: usize,
    fetch_one: impl Fn(usize) -> Result<T, E> + Sync,
) -> Vec<Result<T, E>> {
    let count = end.saturating_sub(first).min(MAX_AHEAD);
    let slots: Vec<Mutex<Option<Result<T, E>>>> = (0..count).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(i) else { break };
            let r = fetch_one(first + i);
            if r.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..IN_FLIGHT.min(count) {
            // A thread that cannot be started leaves its share to the others.
            let _ = std::thread::Builder::new()
                .name("pages".into())
                .spawn_scoped(s, work);
        }
        work();
    });
    let mut out = Vec::with_capacity(count);
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(Ok(v)) => out.push(Ok(v)),
            Some(Err(e)) => {
                out.push(Err(e));
                break;
            }
            // Not asked for: a failure came first.
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_pages_shrink_the_window() {
        assert_eq!(window(0), IN_FLIGHT);
        assert_eq!(window(200 << 10), IN_FLIGHT);
        assert_eq!(window(2 << 20), 4);
        assert_eq!(window(6 << 20), 1);
        assert_eq!(window(100 << 20), 1);
    }
    use std::collections::HashSet;
    use std::time::Duration;

    #[test]
    fn pages_come_back_in_order_each_fetched_once_with_a_bounded_number_in_flight() {
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let seen = Mutex::new(HashSet::new());
        let got = fetch_pages(1, 41, |p| {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            // Later pages answer sooner: the order must come from the page numbers.
            std::thread::sleep(Duration::from_micros(200 * (41 - p as u64)));
            assert!(seen.lock().unwrap().insert(p), "page {p} fetched twice");
            now.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, ()>(p * 10)
        });
        let want: Vec<Result<usize, ()>> = (1..41).map(|p| Ok(p * 10)).collect();
        assert_eq!(got, want);
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=IN_FLIGHT).contains(&peak), "{peak}");
    }

    #[test]
    fn it_ends_at_the_first_failure_in_page_order() {
        let got = fetch_pages(3, 60, |p| if p == 20 { Err(p) } else { Ok(p) });
        assert_eq!(got.len(), 18, "pages 3..=20");
        assert_eq!(got.last(), Some(&Err(20)));
        assert!(got[..17].iter().all(Result::is_ok));
    }

    #[test]
    fn nothing_to_fetch_and_a_bound_on_how_far_ahead() {
        assert!(fetch_pages(5, 5, Ok::<_, ()>).is_empty());
        assert!(fetch_pages(5, 1, Ok::<_, ()>).is_empty());
        let calls = AtomicUsize::new(0);
        let got = fetch_pages(1, usize::MAX, |p| {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(p)
        });
        assert_eq!(got.len(), MAX_AHEAD);
        assert_eq!(calls.load(Ordering::SeqCst), MAX_AHEAD);
    }
}
