//! Platform text as Markdown data, never markup, for the job summary.
//!
//! Single-line text (headings, facts, table cells) goes through [`inline`] or
//! [`push_inline`]: on one line, cut, and escaped by [`push_escaped`]. Multi-line messages
//! go through [`clean_block`] into a fenced code block ([`code_block`]) whose fence
//! ([`fence_for`]) is longer than any backtick run inside.

use crate::text::one_line_chars;
use std::fmt::Write as _;

/// Appends `c` escaped for Markdown inline content (paragraphs, headings, table cells).
/// `& < > " ' |` become entities (`|` would split a table cell, and an entity cannot);
/// Markdown punctuation is backslash-escaped, as are `$` (GitHub renders `$…$` as math),
/// `.` (`1.` would start a list) and the characters that trigger GFM autolinks (`:` of
/// `http://`, `.` of `www.`, `@` of an e-mail address: inside an autolink the backslashes
/// would show); control characters become spaces. The raw text is noisy (`05\:00`), the
/// rendered text is exactly the input.
pub(super) fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        '|' => out.push_str("&#124;"),
        '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '!' | '~' | '{'
        | '}' | '$' | '.' | ':' | '@' => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_control() => out.push(' '),
        c => out.push(c),
    }
}

/// Appends untrusted text on one line ([`one_line_chars`]), cut to `max_chars` with `…`,
/// escaped. No allocation, because it runs for every cell of a table that may have 30,000
/// rows.
pub(super) fn push_inline(out: &mut String, s: &str, max_chars: usize) {
    for (count, c) in one_line_chars(s).enumerate() {
        // A space always comes right before a character: both fit, or the text is cut
        // before the space.
        let needed = if c == ' ' { 2 } else { 1 };
        if count + needed > max_chars {
            out.push('…');
            return;
        }
        push_escaped(out, c);
    }
}

/// Untrusted text on one line, cut to `max_chars`, escaped.
pub(super) fn inline(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2) + 8);
    push_inline(&mut out, s, max_chars);
    out
}

/// A multi-line message cleaned for a code block: line endings become `\n`, other control
/// characters (except tab) spaces.
pub(super) fn clean_block(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// A backtick fence longer than any backtick run in `text` (at least three).
pub(super) fn fence_for(text: &str) -> String {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// Appends `text` as a fenced code block, followed by a blank line.
pub(super) fn code_block(out: &mut String, fence: &str, text: &str) {
    let _ = write!(out, "{fence}\n{text}\n{fence}\n\n");
}
