//! Timestamps: RFC 3339 in (from the platforms), RFC 3339 out (to the list filters), and
//! the HTTP dates of `Retry-After`. The calendar is humantime's; this module adds what
//! humantime does not read: UTC offsets other than `Z`, a lowercase `t`/`z`, and the
//! HTTP-date layout.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parse an RFC 3339 timestamp (`2026-11-22T05:00:00.123Z`, `...+05:30`, fraction of any
/// length optional, offset optional (UTC), a space or `t` instead of `T` accepted).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let (local, offset_secs) = split_offset(s.trim())?;
    let b = local.as_bytes();
    if b.len() < 19 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    // After the seconds only a fraction may follow, with at least one digit.
    let rest = local.get(19..)?;
    if !rest.is_empty() {
        let digits = rest.strip_prefix('.')?;
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    // humantime reads the date, the time and the fraction as UTC; it knows `T` and ' '.
    let utc = if b[10] == b't' {
        humantime::parse_rfc3339_weak(&format!("{}T{}", &local[..10], &local[11..]))
    } else {
        humantime::parse_rfc3339_weak(local)
    }
    .ok()?;
    let shifted = if offset_secs >= 0 {
        utc.checked_sub(Duration::from_secs(offset_secs.unsigned_abs()))
    } else {
        utc.checked_add(Duration::from_secs(offset_secs.unsigned_abs()))
    }?;
    (shifted >= UNIX_EPOCH).then_some(shifted)
}

/// Splits the UTC offset off a timestamp: `Z`/`z` or nothing is 0, `±hh:mm` its seconds
/// east of UTC.
fn split_offset(s: &str) -> Option<(&str, i64)> {
    if let Some(local) = s.strip_suffix(['Z', 'z']) {
        return Some((local, 0));
    }
    let b = s.as_bytes();
    let n = b.len();
    if n < 25 || !matches!(b[n - 6], b'+' | b'-') || b[n - 3] != b':' {
        return Some((s, 0));
    }
    let (local, offset) = s.split_at(n - 6);
    let two = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = offset.get(r)?;
        d.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| d.parse().ok())?
    };
    let secs = two(1..3)? * 3600 + two(4..6)? * 60;
    Some((local, if b[n - 6] == b'-' { -secs } else { secs }))
}

/// `b - a` when both parse and b is not before a.
pub(crate) fn between(a: Option<&str>, b: Option<&str>) -> Option<Duration> {
    let a = parse_rfc3339(a?)?;
    let b = parse_rfc3339(b?)?;
    b.duration_since(a).ok()
}

/// Format as RFC 3339 UTC with milliseconds. Times before 1970 read as 1970-01-01 and
/// times after 9999 as the last millisecond of 9999 (humantime formats neither).
pub fn format_rfc3339(t: SystemTime) -> String {
    let last = UNIX_EPOCH + Duration::from_millis(253_402_300_799_999);
    humantime::format_rfc3339_millis(t.clamp(UNIX_EPOCH, last)).to_string()
}

/// IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn parse_http_date(v: &str) -> Option<SystemTime> {
    let rest = v.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    if parts.len() != 5 || parts[4] != "GMT" {
        return None;
    }
    let day: u8 = parts[0].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[1])?
        + 1;
    let year: u16 = parts[2].parse().ok()?;
    let hms: Vec<u8> = parts[3]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms[..] else {
        return None;
    };
    humantime::parse_rfc3339(&format!(
        "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let t = parse_rfc3339("2026-11-22T05:00:00.123Z").unwrap();
        assert_eq!(format_rfc3339(t), "2026-11-22T05:00:00.123Z");
        assert_eq!(
            parse_rfc3339("2026-11-22T06:00:00+01:00"),
            parse_rfc3339("2026-11-22T05:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2024-02-29 23:59:59.5-00:30").map(format_rfc3339),
            Some("2024-03-01T00:29:59.500Z".to_string())
        );
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(
            between(Some("2026-11-22T05:00:00Z"), Some("2026-11-22T05:01:30.5Z")),
            Some(Duration::from_millis(90_500))
        );
        assert_eq!(between(Some("2026-11-22T05:00:00Z"), None), None);
        // Datalab (Python isoformat): microseconds and an explicit +00:00, or neither.
        assert_eq!(
            parse_rfc3339("2026-11-22T05:00:00.123000+00:00"),
            parse_rfc3339("2026-11-22T05:00:00.123Z")
        );
        assert_eq!(
            between(
                Some("2026-11-22T05:00:00+00:00"),
                Some("2026-11-22T05:00:01.666667+00:00")
            ),
            Some(Duration::from_nanos(1_666_667_000))
        );
    }

    #[test]
    fn offsets_and_fractions_of_every_length() {
        let utc = parse_rfc3339("2026-11-22T05:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-22T10:30:00+05:30"), utc);
        assert_eq!(parse_rfc3339("2026-11-21T23:15:00-05:45"), utc);
        assert_eq!(parse_rfc3339(" 2026-11-22t05:00:00z "), utc);
        assert_eq!(parse_rfc3339("2026-11-22 05:00:00"), utc);
        for digits in 0..=9 {
            let fraction = if digits == 0 {
                String::new()
            } else {
                format!(".{}", "1".repeat(digits))
            };
            let nanos: u32 = format!("{:0<9}", "1".repeat(digits)).parse().unwrap();
            let t = parse_rfc3339(&format!("2026-11-22T10:30:00{fraction}+05:30"));
            assert_eq!(
                t,
                utc.map(|u| u + Duration::from_nanos(nanos.into())),
                "{digits}"
            );
        }
        // More than nine digits: the rest is below a nanosecond.
        assert_eq!(
            parse_rfc3339("2026-11-22T05:00:00.1234567891Z"),
            parse_rfc3339("2026-11-22T05:00:00.123456789Z")
        );
        for bad in [
            "2026-11-22T05:00:00.Z",
            "2026-11-22T05:00:00ZZ",
            "2026-11-22T05:00:00+0530",
            "2026-11-22T05:00:00+5:30",
            "2026-11-22X05:00:00Z",
            "1970-01-01T00:30:00+01:00",
            "2026-11-2é T05:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_within_the_calendar_humantime_knows() {
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(format_rfc3339(before), "1970-01-01T00:00:00.000Z");
        let after = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(format_rfc3339(after), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(t, Some(UNIX_EPOCH + Duration::from_secs(784_111_777)));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 00:00:00 GMT"),
            parse_rfc3339("2028-02-29T00:00:00Z")
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1969 08:49:37 GMT"), None);
    }
}
