//! Unpredictable tokens from the operating system's random source: the delimiters of
//! multi-line step outputs and the `::stop-commands::` pause tokens. Imports nothing of
//! the crate.

use std::fmt::Write as _;

/// 32 lowercase hex characters (128 bits from the OS) that nobody can predict.
///
/// Panics only when the OS has no random source at all, as std's `HashMap` keys (which
/// this replaced) already did: there is no safe fallback for a token that must not be
/// guessed.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("the operating system has no random source: {e}");
    }
    let mut out = String::with_capacity(32);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_hex_and_differ() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_uppercase())
        );
        assert_ne!(a, b);
    }
}
