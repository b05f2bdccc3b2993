//! The docs tell the truth and hold together: every input in the code's table is documented
//! with its default (docs/inputs.md), every exit code is in the README's exit-code table,
//! and every relative link and anchor in README.md and docs/*.md leads somewhere.

use pipeline_run::exit::Exit;
use pipeline_run::inputs::INPUTS;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

const README: &str = include_str!("../../README.md");
const INPUTS_PAGE: &str = include_str!("../../docs/inputs.md");

#[test]
fn every_input_is_documented_with_its_default() {
    for i in INPUTS {
        let row = INPUTS_PAGE
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", i.id)))
            .unwrap_or_else(|| panic!("docs/inputs.md has no row for input '{}'", i.id));
        if let Some(d) = i.default {
            assert!(
                row.contains(&format!("| `{d}` |")),
                "docs/inputs.md row for '{}' lacks default {d}: {row}",
                i.id
            );
        }
    }
}

#[test]
fn every_exit_code_is_documented() {
    for e in Exit::ALL {
        assert!(
            README
                .lines()
                .any(|l| l.starts_with(&format!("| {} |", e.code()))),
            "exit code {} is not in the README's table",
            e.code()
        );
    }
}

// ---- links and anchors -------------------------------------------------------------------

/// The lines of a Markdown text outside fenced code blocks.
fn prose(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |l| {
        let fence = l.trim_start().starts_with("```");
        if fence {
            fenced = !fenced;
        }
        !fence && !fenced
    })
}

/// GitHub's anchor for a heading's text: lower case, inline code marks and punctuation
/// other than `-` and `_` dropped, each space a `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings; a repeated one gets `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    prose(text)
        .filter_map(|l| {
            let hashes = l.chars().take_while(|&c| c == '#').count();
            let title = l.get(hashes..)?.strip_prefix(' ')?;
            (1..=6).contains(&hashes).then(|| slug(title))
        })
        .map(|s| {
            let n = seen.entry(s.clone()).or_insert(0);
            let anchor = if *n == 0 { s } else { format!("{s}-{n}") };
            *n += 1;
            anchor
        })
        .collect()
}

/// The link targets of a page (`[text](target)` and `![alt](target)`), outside code.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        // Inline code is not a link: keep only what lies outside pairs of backticks.
        let plain: String = line
            .split('`')
            .enumerate()
            .map(|(i, part)| if i % 2 == 0 { part } else { "code" })
            .collect();
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

/// `base` joined with `rel`, `..` and `.` resolved without touching the file system.
fn join(base: &Path, rel: &str) -> PathBuf {
    let mut path = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::ParentDir => {
                path.pop();
            }
            Component::CurDir => {}
            c => path.push(c),
        }
    }
    path
}

/// Every relative link of `pages` (path from the repository root → text) that leads
/// nowhere: a file `exists` denies, or an anchor its page has no heading for.
fn broken_links(pages: &BTreeMap<PathBuf, String>, exists: impl Fn(&Path) -> bool) -> Vec<String> {
    let mut broken = Vec::new();
    for (page, text) in pages {
        let dir = page.parent().unwrap_or(Path::new(""));
        for target in links(text) {
            if ["http://", "https://", "mailto:"]
                .iter()
                .any(|p| target.starts_with(p))
            {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() {
                page.clone()
            } else {
                join(dir, file)
            };
            let found = match (pages.get(&file), anchor) {
                (_, "") => pages.contains_key(&file) || exists(&file),
                (Some(linked), anchor) => anchors(linked).iter().any(|a| a == anchor),
                (None, _) => false,
            };
            if !found {
                broken.push(format!("{}: ({target})", page.display()));
            }
        }
    }
    broken
}

/// README.md and every docs/*.md, by path from the repository root.
fn pages() -> BTreeMap<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = BTreeMap::from([(PathBuf::from("README.md"), README.to_string())]);
    for entry in std::fs::read_dir(root.join("docs")).expect("the docs directory") {
        let path = entry.expect("a docs entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&path).expect("a docs page");
            let name = path.file_name().expect("a file name");
            pages.insert(Path::new("docs").join(name), text);
        }
    }
    pages
}

#[test]
fn every_relative_link_and_anchor_in_the_docs_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = pages();
    assert!(pages.len() > 10, "the docs pages: {:?}", pages.keys());
    let broken = broken_links(&pages, |p| root.join(p).exists());
    assert!(broken.is_empty(), "links that lead nowhere: {broken:#?}");
    // Every page can be found from the front door.
    let from_readme = links(README);
    for page in pages.keys().filter(|p| p.starts_with("docs")) {
        assert!(
            from_readme
                .iter()
                .any(|l| l.split('#').next() == page.to_str()),
            "README.md links nowhere to {}",
            page.display()
        );
    }
}

#[test]
fn anchors_follow_githubs_rules() {
    assert_eq!(
        slug("Cancel mode: `pipeline-run cancel`"),
        "cancel-mode-pipeline-run-cancel"
    );
    assert_eq!(
        slug("The JSON result of several pipelines (v2)"),
        "the-json-result-of-several-pipelines-v2"
    );
    assert_eq!(
        slug("A held execution tag (409)"),
        "a-held-execution-tag-409"
    );
    assert_eq!(slug("`result-dir`"), "result-dir");
    assert_eq!(
        slug("Start in seconds: the prebuilt image"),
        "start-in-seconds-the-prebuilt-image"
    );
    assert_eq!(
        anchors("# Setup\n```sh\n# not a heading\n```\n## Setup\n### Setup\nSetup\n"),
        ["setup", "setup-1", "setup-2"]
    );
}

#[test]
fn a_link_to_a_missing_page_file_or_anchor_is_found() {
    let pages = BTreeMap::from([
        (
            PathBuf::from("README.md"),
            "# Top\n[ok](docs/a.md#a-b) [ok](#top) ![ok](docs/pic.png) [ok](https://x.example/y)\n\
             [bad](docs/a.md#missing) [bad](docs/b.md) [bad](#nowhere) `[code](nowhere.md)`\n\
             ```md\n[code](nowhere.md)\n```\n"
                .to_string(),
        ),
        (
            PathBuf::from("docs/a.md"),
            "# A: b\n[ok](../README.md#top) [bad](README.md) [bad](pic.png#top)\n".to_string(),
        ),
    ]);
    let exists = |p: &Path| p == Path::new("docs/pic.png");
    assert_eq!(
        broken_links(&pages, exists),
        [
            "README.md: (docs/a.md#missing)",
            "README.md: (docs/b.md)",
            "README.md: (#nowhere)",
            "docs/a.md: (README.md)",
            "docs/a.md: (pic.png#top)",
        ]
    );
}
