//! Platform text as Markdown data, never markup, for the job summary.
//!
//! Single-line text (headings, facts, table cells) goes through [`inline`] or
//! [`push_inline`]: on one line, cut, and escaped by [`push_escaped`]. Multi-line messages
//! go through [`clean_block`] into a fenced code block ([`code_block`]) whose fence
//! ([`fence_for`]) is longer than any backtick run inside.

use crate::text::one_line_chars;
use std::fmt::Write as _;

/// Where escaped text lands: inside a line, or at the start of a block, where a leading
/// `-`, `>`, `1.` and the like would open a list, a quote or a heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// Inside a line: a table cell, a heading after its icon, bold text.
    Inline,
    /// The first thing on a line or in a list item.
    LineStart,
}

/// Appends `text` (already on one line) escaped for Markdown, so that it renders as
/// exactly itself and nothing else; only what would change the rendering here is escaped,
/// so the raw Markdown stays readable (`2026-11-25T12:19:15Z`, `nightly-load`,
/// `"quoted"` are left alone).
///
/// Escaped with a backslash: `` ` `` `*` `~` `|` `$` (code, emphasis, strikethrough, a
/// table cell's end, GitHub's math) always; `_` unless between two letters or digits
/// (`run_date` cannot start emphasis); `[` (links, images, footnotes); `<` before a
/// letter, `/`, `!` or `?` (HTML, autolinks); `&` that would start an entity; `\` before
/// punctuation or at the end; `#` at a word's start (a heading, a heading's closing
/// sequence); `:` that starts `://` (an autolink) or an emoji shortcode (`:word:`, though
/// not `:19:` in a time); `@` before a letter or digit (an e-mail autolink, a mention);
/// the `.` of a leading `www.`. At [`Place::LineStart`] also a leading block marker
/// (`> - + = #`, `1.`, `1)`). Control characters become spaces.
pub(super) fn push_escaped(out: &mut String, text: &str, place: Place) {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let ordered_marker = ordered_list_marker(&chars);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(at);
        let next = at(i + 1);
        let escape = match c {
            '`' | '*' | '~' | '|' | '$' | '[' => true,
            '_' => {
                !(prev.is_some_and(char::is_alphanumeric)
                    && next.is_some_and(char::is_alphanumeric))
            }
            '<' => next.is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')),
            '&' => starts_entity(&chars[i + 1..]),
            '\\' => next.is_none_or(|n| n.is_ascii_punctuation()),
            '#' => prev.is_none_or(char::is_whitespace),
            ':' => chars[i + 1..].starts_with(&['/', '/']) || starts_shortcode(&chars[i + 1..]),
            '@' => next.is_some_and(char::is_alphanumeric),
            '.' => {
                i >= 3
                    && chars[i - 3..i].iter().all(|w| w.eq_ignore_ascii_case(&'w'))
                    && (i == 3 || !chars[i - 4].is_alphanumeric())
            }
            '>' | '-' | '+' | '=' => place == Place::LineStart && i == 0,
            ')' => place == Place::LineStart && ordered_marker == Some(i),
            _ => false,
        };
        if c.is_control() {
            out.push(' ');
        } else if escape || (place == Place::LineStart && ordered_marker == Some(i)) {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
}

/// The index of the `.` or `)` of a leading ordered-list marker (`1.`, `12)`), if any.
fn ordered_list_marker(chars: &[char]) -> Option<usize> {
    let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    (1..=9).contains(&digits).then_some(())?;
    matches!(chars.get(digits), Some('.' | ')')).then_some(digits)
}

/// Whether `rest` (what follows a `&`) would make an entity: `#` or letters and digits
/// followed by `;`.
fn starts_entity(rest: &[char]) -> bool {
    match rest.first() {
        Some('#') => true,
        _ => {
            let name = rest
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            name > 0 && rest.get(name) == Some(&';')
        }
    }
}

/// Whether `rest` (what follows a `:`) is an emoji shortcode's name and closing `:`:
/// `[A-Za-z0-9_+-]+` then `:`. A name of digits only is a time (`12:19:15`), except
/// GitHub's two emoji of that shape, `:100:` and `:1234:`.
fn starts_shortcode(rest: &[char]) -> bool {
    let len = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-'))
        .count();
    if len == 0 || rest.get(len) != Some(&':') {
        return false;
    }
    let name: String = rest[..len].iter().collect();
    !name.bytes().all(|b| b.is_ascii_digit()) || name == "100" || name == "1234"
}

/// Appends untrusted text on one line ([`one_line_chars`]), cut to `max_chars` with `…`,
/// escaped for `place`. One buffer per call, bounded by `max_chars`.
pub(super) fn push_inline_at(out: &mut String, s: &str, max_chars: usize, place: Place) {
    let mut cut = String::with_capacity(s.len().min(max_chars * 4));
    let mut ellipsis = false;
    for (count, c) in one_line_chars(s).enumerate() {
        // A space always comes right before a character: both fit, or the text is cut
        // before the space.
        let needed = if c == ' ' { 2 } else { 1 };
        if count + needed > max_chars {
            ellipsis = true;
            break;
        }
        cut.push(c);
    }
    push_escaped(out, &cut, place);
    if ellipsis {
        out.push('…');
    }
}

/// Appends untrusted text inside a line (see [`push_inline_at`]).
pub(super) fn push_inline(out: &mut String, s: &str, max_chars: usize) {
    push_inline_at(out, s, max_chars, Place::Inline);
}

/// Untrusted text on one line, cut to `max_chars`, escaped.
pub(super) fn inline(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2) + 8);
    push_inline(&mut out, s, max_chars);
    out
}

/// Untrusted text that starts a line or a list item, cut to `max_chars`, escaped.
pub(super) fn inline_at_line_start(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2) + 8);
    push_inline_at(&mut out, s, max_chars, Place::LineStart);
    out
}

/// A multi-line message cleaned for a code block: line endings become `\n`, other control
/// characters (except tab) spaces, trailing white space trimmed.
pub(super) fn clean_block(s: &str) -> String {
    // Most messages have nothing to rewrite: one pass over the bytes finds out, and the
    // text is copied once (failed steps' messages can add up to megabytes).
    if !s.bytes().any(may_need_cleaning) {
        return s.trim_end().to_string();
    }
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

/// Whether a byte can belong to a character [`clean_block`] rewrites: an ASCII control
/// character other than a line feed or tab, or `0xC2`, the first byte of every C1 control
/// (U+0080 to U+009F; it also starts harmless characters, which the slow path keeps).
fn may_need_cleaning(b: u8) -> bool {
    (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7F || b == 0xC2
}

/// A backtick fence longer than any backtick run in `text` (at least three).
pub(super) fn fence_for(text: &str) -> String {
    // Bytes, not characters: a backtick is ASCII and never part of a longer character.
    let (mut longest, mut run) = (0, 0);
    for &b in text.as_bytes() {
        run = if b == b'`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// Appends `text` as a fenced code block, followed by a blank line.
pub(super) fn code_block(out: &mut String, fence: &str, text: &str) {
    let _ = write!(out, "{fence}\n{text}\n{fence}\n\n");
}
