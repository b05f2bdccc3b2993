//! The docs quote the log, and the code still says what they quote. Each entry is a
//! phrase as a page of the docs quotes it, with its placeholders in capitals (`ID`, `T`,
//! `N`, ...) or `…`; the test checks that the page has it (lines joined), and that every fixed piece of
//! it (between placeholders) is in one of the program's string literals (between its
//! format arguments), so that a message reworded in the code or in the docs fails here.

use std::path::{Path, PathBuf};

/// (page, phrase as quoted).
const PHRASES: &[(&str, &str)] = &[
    ("docs/failure-handling.md", "authentication failed"),
    (
        "docs/failure-handling.md",
        "could not connect to HOST for T (the project list could not reach HOST: …)",
    ),
    (
        "docs/failure-handling.md",
        "the platform asked to wait T (Retry-After), longer than the time left",
    ),
    ("docs/failure-handling.md", "… (N times in T)"),
    (
        "docs/failure-handling.md",
        "N status polls could not be read; the wait went on (the last: …)",
    ),
    (
        "docs/failure-handling.md",
        "…; a missed poll, the wait goes on",
    ),
    (
        "docs/failure-handling.md",
        "execution ID answered 404 after it was found (a replica that lags behind?); asking again for up to T",
    ),
    (
        "docs/failure-handling.md",
        "execution ID was found earlier but has not been found for T",
    ),
    (
        "docs/failure-handling.md",
        "execution ID was created by this run but was still not found T later",
    ),
    (
        "docs/failure-handling.md",
        "timed out after T while the run was STATUS; cancelling it",
    ),
    (
        "docs/failure-handling.md",
        "The trigger's reply was lost; adopted execution ID (started AT), which it created.",
    ),
    (
        "docs/failure-handling.md",
        "execution tag 'T' is held by execution ID (pipeline P, started AT, by TRIGGER)",
    ),
    ("docs/failure-handling.md", "still STATUS after T"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The pieces of the program's string literals between format arguments (`{...}`), with
/// `\` line continuations joined and `\"`, `\\` unescaped.
fn literal_pieces() -> Vec<String> {
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let mut pieces = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read source");
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '"' {
                continue;
            }
            let mut lit = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('\n') => {
                            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                                chars.next();
                            }
                        }
                        Some(e) => lit.push(e),
                        None => break,
                    },
                    c => lit.push(c),
                }
            }
            pieces.extend(split_format_args(&lit));
        }
    }
    pieces
}

fn split_format_args(lit: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut depth = 0;
    for c in lit.chars() {
        match c {
            '{' => {
                depth += 1;
                out.push(String::new());
            }
            '}' if depth > 0 => depth -= 1,
            c if depth == 0 => out.last_mut().into_iter().for_each(|s| s.push(c)),
            _ => {}
        }
    }
    out
}

/// The fixed pieces of a quoted phrase: split at placeholders (words in capitals, `…`).
fn fixed_pieces(phrase: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut word = String::new();
    let flush = |word: &mut String, pieces: &mut Vec<String>| {
        let placeholder =
            !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase()) && word != "I";
        if placeholder {
            pieces.push(String::new());
        } else if let Some(p) = pieces.last_mut() {
            p.push_str(word);
        }
        word.clear();
    };
    for c in phrase.chars() {
        if c.is_alphanumeric() || c == '-' {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut pieces);
        if c == '…' {
            pieces.push(String::new());
        } else if let Some(p) = pieces.last_mut() {
            p.push(c);
        }
    }
    flush(&mut word, &mut pieces);
    pieces
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| p.chars().filter(|c| c.is_alphanumeric()).count() >= 3)
        .collect()
}

#[test]
fn every_quoted_log_phrase_is_in_its_page_and_in_the_code() {
    let code = literal_pieces();
    let mut missing = Vec::new();
    for (page, phrase) in PHRASES {
        // A phrase may be wrapped over lines, and cut at a backtick pair.
        let text = std::fs::read_to_string(root().join(page)).expect("read page");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.contains(phrase) {
            missing.push(format!("{page} does not quote {phrase:?}"));
        }
        for piece in fixed_pieces(phrase) {
            if !code.iter().any(|l| l.contains(&piece)) {
                missing.push(format!("no string in src/ says {piece:?} (of {phrase:?})"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn a_reworded_message_is_found() {
    assert_eq!(
        fixed_pieces("execution ID answered 404 after it was found; asking again for up to T"),
        [
            "execution",
            "answered 404 after it was found; asking again for up to"
        ]
    );
    let code = literal_pieces();
    assert!(
        code.iter()
            .any(|l| l.contains("answered 404 after it was found"))
    );
    // The wording the docs did not match before.
    assert!(
        !code
            .iter()
            .any(|l| l.contains("refused the credentials: the token endpoint answered"))
    );
}
