//! Reading what servers really send. A reply is used for what can be used:
//!
//! - bytes that are not UTF-8 become U+FFFD ([`text`]);
//! - a JSON string escape that strict parsers refuse (a lone surrogate such as `\ud83d`,
//!   `\x41`, a raw control character) is repaired to U+FFFD (or escaped) before parsing
//!   ([`parse`]);
//! - fields that are missing, `null` or of another type become unknown values, and
//!   numbers sent as strings are read as numbers (the deserializers in [`de`], used by the
//!   reply shapes).
//!
//! Only a body that is still not the JSON expected after that is unusable. A leaf module:
//! it depends on nothing else in the crate but [`crate::redact`].

use serde::de::DeserializeOwned;
use std::borrow::Cow;

/// A message (a step's, the run's) is kept up to this many bytes: far more than a person
/// reads in a log or a summary, little enough that a page of them stays small.
pub(crate) const MAX_TEXT: usize = 32 << 10;

/// Bytes as text: invalid UTF-8 sequences become U+FFFD.
pub(crate) fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Parse `body` as `T`; when strict parsing fails, parse it again with its string escapes
/// repaired ([`repair`]). The error is the strict parser's.
pub(crate) fn parse<T: DeserializeOwned>(body: &str) -> Result<T, serde_json::Error> {
    match serde_json::from_str::<T>(body) {
        Ok(v) => Ok(v),
        Err(e) => match repair(body) {
            Cow::Owned(fixed) => serde_json::from_str::<T>(&fixed).map_err(|_| e),
            Cow::Borrowed(_) => Err(e),
        },
    }
}

/// `body` with every string escape a strict JSON parser refuses replaced: a lone or
/// reversed surrogate, a `\u` without four hex digits, an unknown escape letter → `\ufffd`;
/// a raw control character inside a string → its `\u00XX` escape. Text outside strings is
/// left as it is.
pub(crate) fn repair(body: &str) -> Cow<'_, str> {
    let b = body.as_bytes();
    let mut fixes = Vec::new();
    let mut in_string = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !in_string {
            in_string = c == b'"';
            i += 1;
            continue;
        }
        let (next, fix) = match c {
            b'"' => {
                in_string = false;
                (i + 1, None)
            }
            // A backslash that ends the body: the body is cut anyway.
            b'\\' if i + 1 >= b.len() => break,
            b'\\' => escape(b, i),
            0x00..=0x1F => (i + 1, Some((i, i + 1, format!("\\u{:04x}", u32::from(c))))),
            _ => (i + 1, None),
        };
        fixes.extend(fix);
        i = next;
    }
    if fixes.is_empty() {
        return Cow::Borrowed(body);
    }
    Cow::Owned(splice(body, &fixes))
}

/// A replacement: `body[start..end]` becomes the text.
type Fix = (usize, usize, String);

const REPLACEMENT: &str = "\\ufffd";

/// The escape whose backslash is at `b[i]` (a byte follows it): where the string goes on,
/// and its replacement when a strict parser refuses it (an unknown escape letter: the
/// backslash and the letter go).
fn escape(b: &[u8], i: usize) -> (usize, Option<Fix>) {
    let e = b[i + 1];
    match e {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => (i + 2, None),
        b'u' => unicode_escape(b, i),
        _ => {
            let end = i + 1 + utf8_len(e);
            (end, Some((i, end.min(b.len()), REPLACEMENT.into())))
        }
    }
}

/// A `\u` escape at `b[i]`: a high surrogate needs a low one right after; a lone low
/// surrogate or fewer than four hex digits is refused.
fn unicode_escape(b: &[u8], i: usize) -> (usize, Option<Fix>) {
    let (unit, len) = hex4(b, i + 2);
    let end = i + 2 + len;
    match unit {
        Some(0xD800..=0xDBFF) => {
            let paired = b.get(end) == Some(&b'\\')
                && b.get(end + 1) == Some(&b'u')
                && matches!(hex4(b, end + 2), (Some(0xDC00..=0xDFFF), 4));
            if paired {
                (end + 6, None)
            } else {
                (end, Some((i, end, REPLACEMENT.into())))
            }
        }
        Some(0xDC00..=0xDFFF) | None => (end, Some((i, end, REPLACEMENT.into()))),
        Some(_) => (end, None),
    }
}

/// `body` with the replacements made (in order, not overlapping).
fn splice(body: &str, fixes: &[Fix]) -> String {
    let mut out = String::with_capacity(body.len() + 8 * fixes.len());
    let mut copied = 0;
    for (start, end, with) in fixes {
        out.push_str(&body[copied..*start]);
        out.push_str(with);
        copied = *end;
    }
    out.push_str(&body[copied.min(body.len())..]);
    out
}

/// Up to four hex digits at `at`: the value if there are four, and how many there were.
fn hex4(b: &[u8], at: usize) -> (Option<u32>, usize) {
    let mut v = 0u32;
    for k in 0..4 {
        match b.get(at + k).and_then(|c| (*c as char).to_digit(16)) {
            Some(d) => v = v * 16 + d,
            None => return (None, k),
        }
    }
    (Some(v), 4)
}

/// The length of the UTF-8 sequence that starts with `first`.
fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Lenient field deserializers for the reply shapes: each accepts what can be used and
/// turns anything else into "unknown" (`None`, empty, default) instead of refusing the
/// whole reply.
pub(crate) mod de {
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    /// A count: a non-negative integer, or one sent as a string (`"42"`); anything else
    /// (negative, fractional, text, `null`) is unknown.
    pub(crate) fn opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(count(&Value::deserialize(d)?))
    }

    /// [`opt_count`] on a value.
    pub(crate) fn count(v: &Value) -> Option<u64> {
        match v {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0)
                    .map(|f| f as u64)
            }),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
    }

    /// A number of seconds: a non-negative number, or one sent as a string (`"1800"`).
    pub(crate) fn seconds(v: &Value) -> Option<f64> {
        match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|s| s.is_finite() && *s > 0.0)
    }

    /// Text: a string as sent; a number or boolean as written; anything else unknown.
    pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(string(Value::deserialize(d)?))
    }

    /// [`opt_string`], empty when unknown.
    pub(crate) fn string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(string(Value::deserialize(d)?).unwrap_or_default())
    }

    /// Free text a person reads (a message): [`opt_string`] with secrets removed
    /// ([`crate::redact`]), cut to [`super::MAX_TEXT`] bytes (on a character boundary,
    /// marked with `…`) so that a server's megabyte messages cannot fill the memory.
    pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(string(Value::deserialize(d)?).map(|mut s| {
            if s.len() > super::MAX_TEXT {
                let mut end = super::MAX_TEXT;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.truncate(end);
                s.push('…');
            }
            crate::redact::redact(&s).into_owned()
        }))
    }

    fn string(v: Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A nested object of type `T`, or unknown when it is not one.
    pub(crate) fn opt_object<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        let v = Value::deserialize(d)?;
        if v.is_null() {
            return Ok(None);
        }
        Ok(serde_json::from_value(v).ok())
    }

    /// A list: `null` or anything but an array is empty; an item that cannot be read is
    /// left out (the caller sees fewer items, never none because of one). Items are read
    /// one at a time, so a large page is never held twice.
    pub(crate) fn list<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        d.deserialize_any(ListVisitor(std::marker::PhantomData))
    }

    struct ListVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: DeserializeOwned> serde::de::Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<Value>()? {
                if let Ok(t) = serde_json::from_value(item) {
                    out.push(t);
                }
            }
            Ok(out)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(Vec::new())
        }

        fn visit_unit<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_none<E>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        #[derive(serde::Deserialize)]
        struct M {
            #[serde(deserialize_with = "de::opt_text")]
            m: Option<String>,
        }
        let long = format!("{}é{}", "a".repeat(MAX_TEXT - 1), "b".repeat(100));
        let m: M = parse(&serde_json::json!({ "m": long }).to_string()).unwrap();
        let m = m.m.unwrap();
        assert_eq!(m, format!("{}…", "a".repeat(MAX_TEXT - 1)));
        let short: M = parse(r#"{"m":"fine"}"#).unwrap();
        assert_eq!(short.m.as_deref(), Some("fine"));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(text(b"caf\xe9 \xff!".to_vec()), "caf\u{fffd} \u{fffd}!");
        assert_eq!(text(b"plain".to_vec()), "plain");
    }

    #[test]
    fn lone_surrogates_and_bad_escapes_are_repaired() {
        let v: Value = parse(r#"{"message":"\ud83dBoom","ok":"\ud83d\ude00"}"#).unwrap();
        assert_eq!(v["message"], "\u{fffd}Boom");
        assert_eq!(v["ok"], "\u{1F600}");
        let v: Value = parse(r#"{"m":"\udc00 \x41 \u12 end","n":1}"#).unwrap();
        assert_eq!(v["m"], "\u{fffd} \u{fffd}41 \u{fffd} end");
        let v: Value = parse("{\"m\":\"tab\there\"}").unwrap();
        assert_eq!(v["m"], "tab\there");
        // Outside strings nothing is touched, and garbage stays garbage.
        assert!(parse::<Value>("<html>\\ud83d</html>").is_err());
        assert!(matches!(repair(r#"{"a":"\n\u00e9"}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn counts_and_seconds_accept_strings() {
        use serde_json::json;
        assert_eq!(de::count(&json!(42)), Some(42));
        assert_eq!(de::count(&json!("42")), Some(42));
        assert_eq!(de::count(&json!(-1)), None);
        assert_eq!(de::count(&json!("x")), None);
        assert_eq!(de::count(&json!(null)), None);
        assert_eq!(de::seconds(&json!("1800")), Some(1800.0));
        assert_eq!(de::seconds(&json!(0)), None);
    }
}
