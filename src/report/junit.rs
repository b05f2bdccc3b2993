//! JUnit XML (GitLab `artifacts:reports:junit`, and any test-report viewer): one test
//! suite for the pipeline (one per pipeline when several run), one test case per step.
//!
//! A failed step is a `<failure>` whose `message` attribute is the first line of the step's
//! message (or its status) and whose body is the whole message. A step that did not fail
//! but whose status says it was skipped or cancelled (`SKIPPED`, `CANCELLED`, `canceled`,
//! ...) is `<skipped>`: it neither passed nor failed. Everything else passed. Times are
//! seconds with millisecond precision and are left out when unknown. All text is escaped,
//! and characters XML 1.0 does not allow (most control characters, U+FFFE, U+FFFF) are
//! removed, so the document is always well-formed.

use super::{RunReport, Step, truncate_chars};
use std::fmt::Write as _;
use std::time::Duration;

/// The `message` attribute of a failure is cut to this many characters.
const MAX_ATTRIBUTE_CHARS: usize = 200;

fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes text for element content or a double- or single-quoted attribute. Tab, newline
/// and carriage return are written as character references, because an XML parser would
/// otherwise normalise them (to spaces in attributes, `\r` to `\n` everywhere).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| allowed_in_xml(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(c),
        }
    }
    out
}

/// As [`escape`], and also tabs and newlines as references (attribute values only).
fn escape_attr(s: &str) -> String {
    escape(s).replace('\t', "&#9;").replace('\n', "&#10;")
}

fn secs(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

fn is_skipped(step: &Step) -> bool {
    let status = step.status.to_ascii_lowercase();
    !step.failed && (status.contains("skip") || status.contains("cancel"))
}

/// The JUnit XML document for `report`.
pub(crate) fn render(report: &RunReport) -> String {
    let c = Counts::of(report);
    let time = time_attr(report);
    let mut out = String::with_capacity(256 + report.steps.len() * 128);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"pipeline-run\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\"{time}>",
        c.tests, c.failures, c.skipped
    );
    push_suite(&mut out, report, None);
    out.push_str("</testsuites>\n");
    out
}

/// The JUnit XML document for several pipelines: one test suite each, in order. A
/// pipeline that did not succeed and has no failed step (refused, timed out, stopped,
/// interrupted) gets one more test case, `(run)`, with an `<error>` saying why, so that
/// its suite does not read as passed.
pub(crate) fn render_fleet(
    reports: &[RunReport],
    why: impl Fn(&RunReport) -> Option<String>,
) -> String {
    let whys: Vec<Option<String>> = reports
        .iter()
        .map(|r| why(r).filter(|_| r.steps_failed() == 0))
        .collect();
    let (mut tests, mut failures, mut skipped) = (0, 0, 0);
    for (r, w) in reports.iter().zip(&whys) {
        let c = Counts::of(r);
        tests += c.tests + usize::from(w.is_some());
        failures += c.failures;
        skipped += c.skipped;
    }
    let errors = whys.iter().filter(|w| w.is_some()).count();
    let mut out = String::with_capacity(256 + reports.len() * 512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"pipeline-run\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">"
    );
    for (r, w) in reports.iter().zip(&whys) {
        push_suite(&mut out, r, w.as_deref());
    }
    out.push_str("</testsuites>\n");
    out
}

struct Counts {
    tests: usize,
    failures: usize,
    skipped: usize,
}

impl Counts {
    fn of(report: &RunReport) -> Self {
        Self {
            tests: report.steps.len(),
            failures: report.steps_failed(),
            skipped: report.steps.iter().filter(|s| is_skipped(s)).count(),
        }
    }
}

fn time_attr(report: &RunReport) -> String {
    report
        .duration
        .map(|d| format!(" time=\"{}\"", secs(d)))
        .unwrap_or_default()
}

/// One `<testsuite>`: a test case per step, and the `(run)` error when `error` says why.
fn push_suite(out: &mut String, report: &RunReport, error: Option<&str>) {
    let pipeline = escape_attr(&report.pipeline);
    let c = Counts::of(report);
    let time = time_attr(report);
    let (tests, errors) = match error {
        Some(_) => (c.tests + 1, 1),
        None => (c.tests, 0),
    };
    let _ = writeln!(
        out,
        "  <testsuite name=\"{pipeline}\" tests=\"{tests}\" failures=\"{}\" errors=\"{errors}\" skipped=\"{}\"{time}>",
        c.failures, c.skipped
    );
    if let Some(why) = error {
        let first_line = why.lines().next().unwrap_or_default();
        let _ = writeln!(
            out,
            "    <testcase name=\"(run)\" classname=\"{pipeline}\">\n      <error message=\"{}\">{}</error>\n    </testcase>",
            escape_attr(&truncate_chars(first_line, MAX_ATTRIBUTE_CHARS)),
            escape(why)
        );
    }
    for step in &report.steps {
        let name = escape_attr(&step.name);
        let time = step
            .duration
            .map(|d| format!(" time=\"{}\"", secs(d)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "    <testcase name=\"{name}\" classname=\"{pipeline}\"{time}"
        );
        if step.failed {
            let message = step
                .message
                .as_deref()
                .filter(|m| !m.trim().is_empty())
                .unwrap_or(&step.status);
            let first_line = message.lines().next().unwrap_or_default();
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                escape_attr(&truncate_chars(first_line, MAX_ATTRIBUTE_CHARS)),
                escape_attr(&step.status),
                escape(message)
            );
        } else if is_skipped(step) {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                escape_attr(&step.status)
            );
        } else {
            out.push_str("/>\n");
        }
    }
    out.push_str("  </testsuite>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample;

    /// A small strict checker: balanced tags, quoted attributes without `<` or raw `&`,
    /// only the five predefined entities or numeric references, only XML 1.0 characters.
    fn assert_well_formed(xml: &str) {
        let body = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .expect("declaration");
        assert!(xml.chars().all(allowed_in_xml), "forbidden character");
        let check_refs = |s: &str| {
            let mut rest = s;
            while let Some(i) = rest.find('&') {
                let end = rest[i..].find(';').expect("unterminated reference") + i;
                let name = &rest[i + 1..end];
                let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                    || name
                        .strip_prefix('#')
                        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
                assert!(ok, "bad reference &{name};");
                rest = &rest[end + 1..];
            }
        };
        let mut stack: Vec<String> = Vec::new();
        let mut rest = body;
        let mut roots = 0;
        while !rest.is_empty() {
            let lt = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..lt];
            assert!(!text.contains('>'), "raw > in text");
            check_refs(text);
            if stack.is_empty() {
                assert!(text.trim().is_empty(), "text outside the root");
            }
            rest = &rest[lt..];
            if rest.is_empty() {
                break;
            }
            let gt = rest.find('>').expect("unclosed tag");
            let tag = &rest[1..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched end tag");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()));
            let mut seen = Vec::new();
            while !attrs.trim().is_empty() {
                attrs = attrs.trim_start();
                let eq = attrs.find('=').expect("attribute without value");
                let key = &attrs[..eq];
                assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));
                assert!(!seen.contains(&key), "duplicate attribute");
                seen.push(key);
                let after = attrs[eq + 1..].strip_prefix('"').expect("unquoted");
                let close = after.find('"').expect("unterminated attribute");
                let value = &after[..close];
                assert!(!value.contains('<'));
                check_refs(value);
                attrs = &after[close + 1..];
            }
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        assert!(stack.is_empty(), "unclosed elements {stack:?}");
        assert_eq!(roots, 1);
    }

    #[test]
    fn sample_exact() {
        let xml = render(&sample());
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="pipeline-run" tests="2" failures="1" errors="0" skipped="0" time="90.000">
  <testsuite name="Load orders" tests="2" failures="1" errors="0" skipped="0" time="90.000">
    <testcase name="Start" classname="Load orders" time="1.000"/>
    <testcase name="Load" classname="Load orders" time="89.000">
      <failure message="table missing" type="FAILED">table missing</failure>
    </testcase>
  </testsuite>
</testsuites>
"#
        );
        assert_well_formed(&xml);
    }

    #[test]
    fn hostile_names_are_escaped() {
        let mut r = sample();
        r.pipeline = "a<b>&\"c'".into();
        r.duration = None;
        r.steps[0].name = "Größe ✓ <x> & \"q\" 'a'\u{1}\u{FFFE}".into();
        r.steps[0].status = "SKIPPED".into();
        r.steps[0].duration = Some(Duration::from_millis(1500));
        r.steps[1].message = Some("line 1 ]]> </failure>\n\tline 2\r\u{1b}[0m".into());
        let xml = render(&r);
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<testsuites name=\"pipeline-run\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\">
  <testsuite name=\"a&lt;b&gt;&amp;&quot;c&apos;\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\">
    <testcase name=\"Größe ✓ &lt;x&gt; &amp; &quot;q&quot; &apos;a&apos;\" classname=\"a&lt;b&gt;&amp;&quot;c&apos;\" time=\"1.500\">
      <skipped message=\"SKIPPED\"/>
    </testcase>
    <testcase name=\"Load\" classname=\"a&lt;b&gt;&amp;&quot;c&apos;\" time=\"89.000\">
      <failure message=\"line 1 ]]&gt; &lt;/failure&gt;\" type=\"FAILED\">line 1 ]]&gt; &lt;/failure&gt;
\tline 2&#13;[0m</failure>
    </testcase>
  </testsuite>
</testsuites>
"
        );
        assert_well_formed(&xml);
    }

    #[test]
    fn failure_without_message_uses_status() {
        let mut r = sample();
        r.steps[1].message = None;
        r.steps[1].status = "ERROR\tX".into();
        let xml = render(&r);
        assert!(
            xml.contains("<failure message=\"ERROR&#9;X\" type=\"ERROR&#9;X\">ERROR\tX</failure>")
        );
        assert_well_formed(&xml);
    }

    #[test]
    fn no_steps() {
        let r = RunReport::new(crate::report::PlatformKind::Datalab, "pl_1");
        let xml = render(&r);
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<testsuites name=\"pipeline-run\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\">
  <testsuite name=\"pl_1\" tests=\"0\" failures=\"0\" errors=\"0\" skipped=\"0\">
  </testsuite>
</testsuites>
"
        );
        assert_well_formed(&xml);
    }
}
