//! Bounded paging: when to stop reading a paged list, whatever the server sends. A list
//! ends at an empty page, at its `total`, or (without a usable `total`) at a short page.
//! It is cut — and the caller says so in the report — when a page repeats an earlier one
//! (a cache or proxy that ignores the page parameter), at [`MAX_PAGES`] pages, or after
//! [`MAX_LIST_BYTES`] of replies. Pure code: no I/O.

/// At most this many pages of one list are read (100,000 items at 100 a page).
pub(crate) const MAX_PAGES: usize = 1000;
/// At most this many bytes of replies are read for one list.
pub(crate) const MAX_LIST_BYTES: usize = 24 << 20;
/// At most this many page fingerprints are remembered (every page, up to the cap).
const MAX_SEEN: usize = MAX_PAGES;

/// What to do after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Keep its items and ask for the next page.
    More,
    /// Keep its items; the list is complete.
    Done,
    /// Keep its items, but stop: the list is cut, for this reason.
    Cut(String),
    /// Drop this page (it repeats an earlier one) and stop: the list is cut.
    Repeated(String),
}

/// The state of one paged read.
#[derive(Debug, Clone)]
pub(crate) struct Pager {
    page_size: usize,
    seen: Vec<u64>,
    pages: usize,
    items: u64,
    bytes: usize,
}

impl Pager {
    /// A read of pages of `page_size` items.
    pub(crate) fn new(page_size: usize) -> Self {
        Self {
            page_size,
            seen: Vec::new(),
            pages: 0,
            items: 0,
            bytes: 0,
        }
    }

    /// A read that starts after `pages` pages holding `items` items, known already (they
    /// count towards the `total` and the page cap).
    pub(crate) fn after(mut self, pages: usize, items: u64) -> Self {
        self.pages = pages;
        self.items = items;
        self
    }

    /// Items kept so far.
    #[cfg(test)]
    pub(crate) fn items(&self) -> u64 {
        self.items
    }

    /// A page arrived: its body's fingerprint and length, how many items it held, and the
    /// `total` it announced (if usable).
    pub(crate) fn page(
        &mut self,
        fingerprint: u64,
        len: usize,
        n: usize,
        total: Option<u64>,
    ) -> Next {
        self.pages += 1;
        if n > 0 && self.seen.contains(&fingerprint) {
            return Next::Repeated(format!(
                "page {} repeated an earlier page (a cache or proxy that ignores the page parameter?)",
                self.pages
            ));
        }
        if self.seen.len() < MAX_SEEN {
            self.seen.push(fingerprint);
        }
        if n == 0 {
            return Next::Done;
        }
        self.items += n as u64;
        self.bytes = self.bytes.saturating_add(len);
        let complete = match total {
            Some(t) => self.items >= t,
            None => n < self.page_size,
        };
        if complete {
            Next::Done
        } else if self.pages >= MAX_PAGES {
            Next::Cut(format!(
                "it stopped at {MAX_PAGES} pages, the most read of a list"
            ))
        } else if self.bytes >= MAX_LIST_BYTES {
            Next::Cut(format!(
                "it stopped after {} MB of replies, the most read of a list",
                MAX_LIST_BYTES >> 20
            ))
        } else {
            Next::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_ends_at_its_total_at_a_short_page_or_an_empty_one() {
        let mut p = Pager::new(100);
        assert_eq!(p.page(1, 10, 100, Some(150)), Next::More);
        assert_eq!(p.page(2, 10, 50, Some(150)), Next::Done);
        let mut p = Pager::new(100);
        assert_eq!(p.page(1, 10, 100, None), Next::More);
        assert_eq!(p.page(2, 10, 99, None), Next::Done);
        let mut p = Pager::new(100);
        assert_eq!(p.page(1, 10, 100, Some(1_000_000)), Next::More);
        assert_eq!(p.page(2, 10, 0, Some(1_000_000)), Next::Done);
    }

    #[test]
    fn a_repeated_page_is_dropped_and_cuts_the_list() {
        let mut p = Pager::new(100);
        assert_eq!(p.page(7, 10, 100, None), Next::More);
        assert!(
            matches!(p.page(7, 10, 100, None), Next::Repeated(m) if m.starts_with("page 2 repeated"))
        );
        assert_eq!(p.items(), 100);
    }

    #[test]
    fn the_hard_caps_cut_the_list() {
        let mut p = Pager::new(100);
        let mut last = Next::More;
        let mut pages = 0;
        while last == Next::More {
            pages += 1;
            last = p.page(pages, 10, 100, Some(u64::MAX));
        }
        assert_eq!(pages, MAX_PAGES as u64);
        assert!(matches!(last, Next::Cut(m) if m.contains("1000 pages")));
        let mut p = Pager::new(100);
        assert_eq!(p.page(1, MAX_LIST_BYTES / 2, 100, None), Next::More);
        assert!(
            matches!(p.page(2, MAX_LIST_BYTES / 2, 100, None), Next::Cut(m) if m.contains("24 MB"))
        );
    }
}
