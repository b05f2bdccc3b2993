//! A string that never prints itself: client secrets, tokens and API keys live in this type
//! so that no `{}` or `{:?}` (in a log line, an error, a debug dump) can reveal them.

use std::fmt;

/// A secret value. `Debug` and `Display` print `***`; the value is reachable only through
/// [`Secret::expose`], which is called where the value is put on the wire.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub(crate) fn new(v: impl Into<String>) -> Self {
        Self(v.into())
    }

    /// The value, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
