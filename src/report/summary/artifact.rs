//! The job summary's section for `publish` and `promote`: a headline, the facts (version,
//! commit, files sent, ignored resources), what the platform ignored and what was left
//! out (each with its reason), and the files sent in a folded list. Every name from the
//! platform or the disk is Markdown data ([`inline`]); the lists are cut so the section
//! stays far under the summary's limit.

use super::markdown::inline;
use crate::report::artifact::{ArtifactOutcome, ArtifactReport};
use std::fmt::Write as _;

/// Characters of a name or reason shown.
const TEXT_CHARS: usize = 300;
/// Ignored resources and left-out files listed.
const MAX_LISTED: usize = 100;
/// Files listed in the folded list.
const MAX_FILES_LISTED: usize = 200;

fn headline(r: &ArtifactReport) -> String {
    let v = inline(&r.version, TEXT_CHARS);
    let env = inline(&r.environment, TEXT_CHARS);
    let from = inline(
        r.from_environment.as_deref().unwrap_or_default(),
        TEXT_CHARS,
    );
    match (&r.outcome, r.command) {
        (ArtifactOutcome::Published, _) => format!("📦 Published version {v} to {env}"),
        (ArtifactOutcome::AlreadyPublished, _) => {
            format!("📦 Version {v} was already published to {env} (same commit)")
        }
        (ArtifactOutcome::Promoted, _) => format!("🚚 Promoted version {v} from {from} to {env}"),
        (ArtifactOutcome::AlreadyPromoted, _) => {
            format!("🚚 Version {v} was already in {env}")
        }
        (ArtifactOutcome::DryRun, c) => {
            format!("🔎 Dry run of {c} {v} to {env}: nothing was sent")
        }
        (ArtifactOutcome::Refused { .. }, c) => format!("❌ {} of version {v} was refused", cap(c)),
        (ArtifactOutcome::Interrupted { .. }, c) => {
            format!("⏹ {} of version {v} was interrupted", cap(c))
        }
    }
}

fn cap(command: &str) -> String {
    let mut c = command.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A size for people: `512 B`, `1.5 KiB`, `2.0 MiB`.
pub(crate) fn size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
    }
}

fn facts(out: &mut String, r: &ArtifactReport) {
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(p) = &r.project {
        rows.push(("Project", inline(p, TEXT_CHARS)));
    }
    if let Some(f) = &r.from_environment {
        rows.push(("From environment", inline(f, TEXT_CHARS)));
    }
    rows.push(("Environment", inline(&r.environment, TEXT_CHARS)));
    rows.push((
        "Version",
        format!(
            "{} ({})",
            inline(&r.version, TEXT_CHARS),
            inline(&r.version_from, TEXT_CHARS)
        ),
    ));
    if let Some(c) = &r.commit {
        rows.push(("Commit", inline(c, TEXT_CHARS)));
    }
    if let Some(b) = &r.branch {
        rows.push(("Branch", inline(b, TEXT_CHARS)));
    }
    if r.command == "publish" {
        rows.push((
            "Files sent",
            format!("{} ({})", r.files.len(), size(r.bytes)),
        ));
        rows.push(("Ignored resources", r.ignored_resources.len().to_string()));
    }
    out.push_str("| | |\n|---|---|\n");
    for (k, v) in rows {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    out.push('\n');
}

fn list(out: &mut String, title: &str, items: &[(String, String)]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "**{title}** ({}):\n", items.len());
    for (name, why) in items.iter().take(MAX_LISTED) {
        let _ = writeln!(
            out,
            "- {}: {}",
            inline(name, TEXT_CHARS),
            inline(why, TEXT_CHARS)
        );
    }
    if items.len() > MAX_LISTED {
        let _ = writeln!(out, "- … and {} more", items.len() - MAX_LISTED);
    }
    out.push('\n');
}

/// The section for `r`.
pub(crate) fn render_artifact(r: &ArtifactReport) -> String {
    let mut out = format!("## {}\n\n", headline(r));
    if let ArtifactOutcome::Refused { reason } = &r.outcome {
        let _ = writeln!(out, "{}\n", inline(reason, 2000));
    }
    facts(&mut out, r);
    let ignored: Vec<(String, String)> = r
        .ignored_resources
        .iter()
        .map(|i| (i.name.clone(), i.reason.clone()))
        .collect();
    list(&mut out, "Ignored by Matillion", &ignored);
    let left: Vec<(String, String)> = r
        .left_out
        .iter()
        .map(|l| (l.name.clone(), l.why.clone()))
        .collect();
    list(&mut out, "Left out", &left);
    for n in r.notes.iter().take(MAX_LISTED) {
        let _ = writeln!(out, "> {}\n", inline(n, TEXT_CHARS));
    }
    if !r.files.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Files sent ({})</summary>\n",
            r.files.len()
        );
        for f in r.files.iter().take(MAX_FILES_LISTED) {
            let _ = writeln!(out, "- {} ({})", inline(&f.name, TEXT_CHARS), size(f.bytes));
        }
        if r.files.len() > MAX_FILES_LISTED {
            let _ = writeln!(out, "- … and {} more", r.files.len() - MAX_FILES_LISTED);
        }
        out.push_str("\n</details>\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::artifact::sample;

    #[test]
    fn a_publish_section() {
        assert_eq!(
            render_artifact(&sample()),
            "## 📦 Published version 0123456789ab to test\n\n\
             | | |\n|---|---|\n\
             | Project | Analytics (4d5e) |\n\
             | Environment | test |\n\
             | Version | 0123456789ab (GITHUB_SHA, cut to 12 characters) |\n\
             | Commit | 0123456789abcdef |\n\
             | Branch | main |\n\
             | Files sent | 2 (150 B) |\n\
             | Ignored resources | 1 |\n\n\
             **Ignored by Matillion** (1):\n\n\
             - README.md: Unsupported file type\n\n\
             **Left out** (1):\n\n\
             - logo.png: its content is not UTF-8 text\n\n\
             <details><summary>Files sent (2)</summary>\n\n\
             - load.orch.yaml (120 B)\n\
             - README.md (30 B)\n\n\
             </details>\n\n"
        );
    }

    #[test]
    fn hostile_names_stay_data() {
        let mut r = sample();
        r.ignored_resources[0].name = "<script>x</script> | [a](b)".into();
        r.ignored_resources[0].reason = "line\n::error::x".into();
        let s = render_artifact(&r);
        assert!(
            s.contains("- \\<script>x\\</script> \\| \\[a](b): line :\\:error::x\n"),
            "{s}"
        );
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 << 20), "3.0 MiB");
    }
}
