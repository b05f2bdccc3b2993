//! Untrusted text made safe for one line: the one cleaner every format shares ([`clean`]
//! for a log line, [`one_line`] beneath it), and the escaping of GitHub workflow-command
//! data. Imports only [`crate::redact`], so the HTTP client, the log decoration (`ci`) and
//! the reporters (`report`) can all use it.

/// The characters of `s` on one line: every run of white space and control characters
/// (newlines, tabs, ESC, the Unicode line and paragraph separators) becomes one space,
/// and the ends are trimmed. An iterator, so that a caller that escapes or cuts the text
/// (a summary table of 30,000 rows) needs no allocation; a space is only ever yielded
/// right before the character that follows it.
pub(crate) fn one_line_chars(s: &str) -> impl Iterator<Item = char> + '_ {
    let (mut started, mut pending_space) = (false, false);
    s.chars()
        .flat_map(move |c| {
            if c.is_whitespace() || c.is_control() {
                pending_space = started;
                return [None, None];
            }
            started = true;
            let space = std::mem::take(&mut pending_space).then_some(' ');
            [space, Some(c)]
        })
        .flatten()
}

/// Remote text made safe for one log line: secrets removed ([`crate::redact`]), on one
/// line ([`one_line`]: control characters and runs of white space become one space, ends
/// trimmed), and the legacy `##[` command marker broken up.
pub(crate) fn clean(s: &str) -> String {
    one_line(&crate::redact::redact(s)).replace("##[", "# #[")
}

/// `s` on one line (see [`one_line_chars`]). Used wherever a format has no room for a
/// line break: log lines, table cells, dotenv values, titles.
pub(crate) fn one_line(s: &str) -> String {
    one_line_chars(s).collect()
}

/// Escapes a workflow command's message: `%`, `\r` and `\n` (the runner unescapes them
/// back), so the message can never end its line and start a command of its own.
pub(crate) fn escape_data(s: &str) -> String {
    escape(s, false)
}

/// Escapes a workflow command's property value (`title=...`): as [`escape_data`], plus
/// `:` and `,`, which would otherwise end the property list or start the next property.
pub(crate) fn escape_property(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, property: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_collapses_controls() {
        assert_eq!(one_line("  a\r\n\tb\u{1b}[0K c\u{2028}d  "), "a b [0K c d");
        assert_eq!(one_line("x\u{2029}\u{85}y"), "x y");
        assert_eq!(one_line("\n\n"), "");
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn escapes() {
        assert_eq!(escape_data("50%\r\n::x"), "50%25%0D%0A::x");
        assert_eq!(escape_property("a,b:c%\n"), "a%2Cb%3Ac%25%0A");
    }
}
