//! "Did you mean …?": the closest of a few known words to one typed wrong (a flag, a
//! command, an environment variable's name), by edit distance. Insertions, deletions,
//! substitutions and the swap of two neighbouring characters each cost one (the optimal
//! string alignment distance); case is ignored.

/// The edit distance between `a` and `b`, ignoring ASCII case.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    // Three rows of the usual table: the one before the previous is needed for swaps.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            cur[j] = d;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Whether `word` is near enough to `known` to suggest it: one edit for short words, up to
/// a third of the longer word's length (at most three) for long ones.
fn near(word: &str, known: &str, d: usize) -> bool {
    let len = word.chars().count().max(known.chars().count());
    d <= (len / 3).clamp(1, 3)
}

/// The candidate closest to `word`, when one is near (the first of equally close ones).
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, c)| near(word, c, *d))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("run", "run"), 0);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("rnu", "run"), 1, "a swap costs one");
        assert_eq!(distance("DRY_RUN", "dry-run"), 1);
        assert_eq!(distance("variable", "variables"), 1);
        assert_eq!(distance("executon-tag", "execution-tag"), 1);
    }

    #[test]
    fn only_near_words_are_suggested() {
        let words = ["run", "cancel", "post"];
        assert_eq!(closest("rnu", words), Some("run"));
        assert_eq!(closest("cancle", words), Some("cancel"));
        assert_eq!(closest("Cancel", words), Some("cancel"));
        assert_eq!(closest("deploy", words), None);
        assert_eq!(closest("x", words), None);
        let ids = ["pipeline", "pipeline-version", "timeout", "variables"];
        assert_eq!(closest("pipelne", ids), Some("pipeline"));
        assert_eq!(closest("timeot", ids), Some("timeout"));
        assert_eq!(closest("variable", ids), Some("variables"));
        assert_eq!(closest("colour", ids), None);
    }
}
