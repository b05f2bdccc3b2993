//! Which CI system runs us, and how to decorate the log for it: GitHub `::group::`s,
//! GitLab collapsible sections, or plain `== title ==` lines for cron and terminals.
//!
//! Text from the platform is printed through [`Log::remote_text`], which makes sure it can
//! never become a GitHub workflow command or a GitLab section marker.

use crate::text::{escape_data, one_line};
use crate::token::random_token;

/// The CI system the program runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiKind {
    /// GitHub Actions (`GITHUB_ACTIONS=true`).
    GitHub,
    /// GitLab CI (`GITLAB_CI=true`).
    GitLab,
    /// Anything else: cron, a terminal, another CI.
    Plain,
}

/// Detects the CI system from the environment, read through `lookup` so tests never touch
/// the process environment.
pub(crate) fn detect(lookup: impl Fn(&str) -> Option<String>) -> CiKind {
    let is_true = |name: &str| lookup(name).is_some_and(|v| v.trim() == "true");
    if is_true("GITHUB_ACTIONS") {
        CiKind::GitHub
    } else if is_true("GITLAB_CI") {
        CiKind::GitLab
    } else {
        CiKind::Plain
    }
}

/// A GitLab section name: only ASCII letters, digits, `_`, `.` and `-` are allowed, so
/// anything else becomes `_`.
fn section_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "section".to_string()
    } else {
        cleaned
    }
}

/// Text without terminal control: every control character except newline and tab is
/// dropped, so remote text cannot move the cursor, colour the log, overwrite a line with
/// `\r`, or forge a GitLab section marker (which needs `\r` and ESC).
fn strip_controls(text: &str) -> String {
    text.chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

/// The line that opens a GitLab collapsible section (no trailing newline).
pub(crate) fn section_start(name: &str, header: &str, collapsed: bool, unix_ts: u64) -> String {
    let flag = if collapsed { "[collapsed=true]" } else { "" };
    format!(
        "\x1b[0Ksection_start:{unix_ts}:{}{flag}\r\x1b[0K{}",
        section_name(name),
        one_line(header)
    )
}

/// The line that closes a GitLab collapsible section (no trailing newline).
pub(crate) fn section_end(name: &str, unix_ts: u64) -> String {
    format!(
        "\x1b[0Ksection_end:{unix_ts}:{}\r\x1b[0K",
        section_name(name)
    )
}

/// Print `lines` on stdout at once (flushed: a workflow command must come before what it
/// applies to). Nothing for an empty string.
pub(crate) fn print(lines: &str) {
    use std::io::Write;
    if lines.is_empty() {
        return;
    }
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{lines}");
    let _ = o.flush();
}

/// The command that masks `value` in the rest of a GitHub job's log (no trailing newline).
pub(crate) fn add_mask(value: &str) -> String {
    format!("::add-mask::{}", escape_data(value))
}

/// On GitHub, mask `value` in the rest of the job's log before anything could print it
/// (every token fetched); elsewhere nothing.
pub(crate) fn mask(kind: CiKind, value: &str) {
    if kind == CiKind::GitHub {
        print(&add_mask(value));
    }
}

/// Log decoration for one CI system. Keeps track of the open group, because GitHub groups
/// do not nest and a GitLab section must be closed by name.
#[derive(Debug)]
pub(crate) struct Log {
    kind: CiKind,
    open: Option<String>,
    sections: u32,
}

impl Log {
    /// Decoration for `kind`.
    pub(crate) fn new(kind: CiKind) -> Self {
        Self {
            kind,
            open: None,
            sections: 0,
        }
    }

    /// The line(s) that open a group titled `title` (no trailing newline). A group still
    /// open is closed first. `unix_ts` is only used by GitLab.
    pub(crate) fn group_start(&mut self, title: &str, unix_ts: u64) -> String {
        let mut out = String::new();
        if self.open.is_some() {
            out.push_str(&self.group_end(unix_ts));
            out.push('\n');
        }
        match self.kind {
            CiKind::GitHub => {
                out.push_str("::group::");
                out.push_str(&escape_data(&one_line(title)));
                self.open = Some(String::new());
            }
            CiKind::GitLab => {
                self.sections += 1;
                let name = format!("pipeline_run_{}", self.sections);
                out.push_str(&section_start(&name, title, true, unix_ts));
                self.open = Some(name);
            }
            CiKind::Plain => {
                out.push_str("== ");
                out.push_str(&one_line(title));
                out.push_str(" ==");
            }
        }
        out
    }

    /// The line that closes the open group, or an empty string when none is open (or on
    /// plain logs, where groups have no end marker).
    pub(crate) fn group_end(&mut self, unix_ts: u64) -> String {
        match (self.kind, self.open.take()) {
            (CiKind::GitHub, Some(_)) => "::endgroup::".to_string(),
            (CiKind::GitLab, Some(name)) => section_end(&name, unix_ts),
            _ => String::new(),
        }
    }

    /// Remote text (a message, a step list) made safe to print: control characters are
    /// dropped, and on GitHub it is wrapped in `::stop-commands::<token>` … `::<token>::`
    /// with a fresh token so no line of it can run a workflow command. Plain and GitLab
    /// logs never see a `::` command. No trailing newline; empty text gives "".
    pub(crate) fn remote_text(&self, text: &str) -> String {
        self.remote_text_with_tokens(text, random_token)
    }

    fn remote_text_with_tokens(&self, text: &str, mut token: impl FnMut() -> String) -> String {
        let clean = strip_controls(text);
        let clean = clean.trim_end_matches('\n');
        if clean.is_empty() {
            return String::new();
        }
        match self.kind {
            CiKind::GitHub => {
                // A text that held the token could end the pause early; a random token
                // makes that unguessable, and drawing again makes it impossible.
                let mut t = token();
                while t.is_empty() || clean.contains(&t) {
                    t = token();
                }
                format!("::stop-commands::{t}\n{clean}\n::{t}::")
            }
            CiKind::GitLab | CiKind::Plain => clean.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::env;

    #[test]
    fn masks_are_escaped() {
        assert_eq!(add_mask("se%cr\net"), "::add-mask::se%25cr%0Aet");
    }

    #[test]
    fn detects_ci() {
        assert_eq!(detect(env(&[("GITHUB_ACTIONS", "true")])), CiKind::GitHub);
        assert_eq!(detect(env(&[("GITLAB_CI", "true")])), CiKind::GitLab);
        assert_eq!(detect(env(&[("GITHUB_ACTIONS", "false")])), CiKind::Plain);
        assert_eq!(detect(env(&[])), CiKind::Plain);
        assert_eq!(
            detect(env(&[("GITLAB_CI", "true"), ("GITHUB_ACTIONS", "true")])),
            CiKind::GitHub
        );
    }

    #[test]
    fn gitlab_sections() {
        assert_eq!(
            section_start("wait", "Waiting for Load orders", true, 1_700_000_000),
            "\x1b[0Ksection_start:1700000000:wait[collapsed=true]\r\x1b[0KWaiting for Load orders"
        );
        assert_eq!(
            section_start("a b:c", "x\r\x1b[0Ky", false, 5),
            "\x1b[0Ksection_start:5:a_b_c\r\x1b[0Kx [0Ky"
        );
        assert_eq!(
            section_end("wait", 1_700_000_090),
            "\x1b[0Ksection_end:1700000090:wait\r\x1b[0K"
        );
    }

    #[test]
    fn github_groups_do_not_nest() {
        let mut log = Log::new(CiKind::GitHub);
        assert_eq!(
            log.group_start("Steps of 50%\nx", 0),
            "::group::Steps of 50%25 x"
        );
        assert_eq!(log.group_start("Next", 0), "::endgroup::\n::group::Next");
        assert_eq!(log.group_end(0), "::endgroup::");
        assert_eq!(log.group_end(0), "");
    }

    #[test]
    fn gitlab_groups_are_named_sections() {
        let mut log = Log::new(CiKind::GitLab);
        assert_eq!(
            log.group_start("Steps", 10),
            "\x1b[0Ksection_start:10:pipeline_run_1[collapsed=true]\r\x1b[0KSteps"
        );
        assert_eq!(
            log.group_end(20),
            "\x1b[0Ksection_end:20:pipeline_run_1\r\x1b[0K"
        );
    }

    #[test]
    fn plain_groups_are_titles() {
        let mut log = Log::new(CiKind::Plain);
        assert_eq!(
            log.group_start("Steps\n::error::x", 0),
            "== Steps ::error::x =="
        );
        assert_eq!(log.group_end(0), "");
    }

    #[test]
    fn remote_text_on_github_is_paused() {
        let log = Log::new(CiKind::GitHub);
        let text = "ok\n::error::pwned\n::add-mask::x\n";
        assert_eq!(
            log.remote_text_with_tokens(text, || "tok".to_string()),
            "::stop-commands::tok\nok\n::error::pwned\n::add-mask::x\n::tok::"
        );
        let fresh = log.remote_text(text);
        assert!(fresh.starts_with("::stop-commands::"));
        // A text that knows the token cannot end the pause early: another token is drawn.
        let mut tokens = ["tok", "other"].into_iter().map(String::from);
        assert_eq!(
            log.remote_text_with_tokens("a\n::tok::\n::error::x", || {
                tokens.next().unwrap_or_default()
            }),
            "::stop-commands::other\na\n::tok::\n::error::x\n::other::"
        );
        assert_eq!(log.remote_text(""), "");
    }

    #[test]
    fn remote_text_elsewhere_has_no_commands_or_escapes() {
        for kind in [CiKind::GitLab, CiKind::Plain] {
            let log = Log::new(kind);
            let text = "a\x1b[0Ksection_end:1:x\r\x1b[0K\n\tb";
            let out = log.remote_text(text);
            assert_eq!(out, "a[0Ksection_end:1:x[0K\n\tb");
            assert!(!out.contains("::stop-commands"));
        }
    }
}
