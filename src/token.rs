//! Unpredictable tokens from the operating system's random source: the delimiters of
//! multi-line step outputs and the `::stop-commands::` pause tokens. Imports nothing of
//! the crate.

use std::fmt::Write as _;

/// 32 lowercase hex characters (128 bits from the OS) that nobody can predict.
///
/// From `getrandom`; where it has no source (a static binary in an empty root without
/// `/dev`, as in a `scratch` image run without one, finds no `getrandom` in libc and no
/// `/dev/urandom`), from std's hash keys instead, which std reads with the `getrandom`
/// system call itself: still secret, never a panic.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        std_random(&mut bytes);
    }
    let mut out = String::with_capacity(32);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Fill `bytes` from SipHash under std's secret per-process random keys.
fn std_random(bytes: &mut [u8]) {
    use std::hash::BuildHasher;
    let keys = std::collections::hash_map::RandomState::new();
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = keys.hash_one(i).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
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

    #[test]
    fn the_fallback_fills_every_byte_and_differs() {
        let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
        std_random(&mut a);
        std_random(&mut b);
        assert_ne!(a, [0u8; 16]);
        assert_ne!(a, b);
    }
}
