//! Writes what `publish` or `promote` did everywhere it was asked for: the result line in
//! the log, an error annotation on GitHub when refused, the job summary's section, the
//! step outputs (`version`, `ignored-resources`), and the dotenv and JSON files. The
//! writers are the run's ([`crate::emit`], [`crate::report::outputs`]); the renderers are
//! in [`crate::report::artifact`] and the summary's `artifact` section.

use crate::ci::CiKind;
use crate::config::artifact::ArtifactConfig;
use crate::emit::{append_file, out, write_file};
use crate::report::artifact::{self, ArtifactOutcome, ArtifactReport};
use crate::text;
use std::path::Path;

/// The one line that says how it ended.
fn result_line(r: &ArtifactReport) -> String {
    let v = text::one_line(&r.version);
    let env = text::one_line(&r.environment);
    match &r.outcome {
        ArtifactOutcome::Published => format!(
            "result: published version '{v}' to '{env}' ({} file(s), {} ignored by Matillion)",
            r.files.len(),
            r.ignored_resources.len()
        ),
        ArtifactOutcome::AlreadyPublished => {
            format!("result: version '{v}' was already published to '{env}' (same commit)")
        }
        ArtifactOutcome::Promoted => format!(
            "result: promoted version '{v}' from '{}' to '{env}'",
            text::one_line(r.from_environment.as_deref().unwrap_or_default())
        ),
        ArtifactOutcome::AlreadyPromoted => {
            format!("result: version '{v}' was already in '{env}'")
        }
        ArtifactOutcome::DryRun => {
            format!("result: dry run of {} passed; nothing was sent", r.command)
        }
        ArtifactOutcome::Refused { reason } => {
            // A sentence of its own, as a refused run's last line is.
            format!("{} refused: {}", r.command, text::clean(reason))
        }
        ArtifactOutcome::Interrupted { signal } => {
            format!("result: {} interrupted by {signal}", r.command)
        }
    }
}

/// At most this many warning annotations (GitHub shows 10 a step).
const MAX_WARNINGS: usize = 10;

/// GitHub annotations: an error when refused, a warning for each resource Matillion left
/// out and each file left out (at most [`MAX_WARNINGS`]). Names are workflow-command data.
fn annotations(r: &ArtifactReport) {
    if let ArtifactOutcome::Refused { reason } = &r.outcome {
        out(&format!(
            "::error title={}::{}",
            text::escape_property(&format!("{} refused", r.command)),
            text::escape_data(&crate::http::clean(reason))
        ));
    }
    let ignored = r.ignored_resources.iter().map(|i| {
        (
            "Ignored by Matillion",
            format!("{}: {}", text::one_line(&i.name), text::one_line(&i.reason)),
        )
    });
    let left = r.left_out.iter().map(|l| {
        (
            "Left out of the artifact",
            format!("{}: {}", text::one_line(&l.name), l.why),
        )
    });
    for (title, message) in ignored.chain(left).take(MAX_WARNINGS) {
        out(&format!(
            "::warning title={}::{}",
            text::escape_property(title),
            text::escape_data(&message)
        ));
    }
}

/// Write every report asked for.
pub(super) fn all(
    cfg: &ArtifactConfig,
    r: &ArtifactReport,
    ci: CiKind,
    env: &dyn Fn(&str) -> Option<String>,
) {
    let line = result_line(r);
    if r.outcome.succeeded() {
        log::info!("{line}");
    } else {
        log::error!("{line}");
    }
    if ci == CiKind::GitHub {
        annotations(r);
    }
    let named = |name: &str| env(name).filter(|p| !p.is_empty());
    if let Some(p) = named("GITHUB_STEP_SUMMARY") {
        append_file(
            "job summary",
            Path::new(&p),
            &crate::report::summary::render_artifact(r),
        );
    }
    if let Some(p) = named("GITHUB_OUTPUT") {
        if let Err(e) =
            crate::report::outputs::write_pairs(Path::new(&p), artifact::output_values(r))
        {
            log::error!("could not write the step outputs: {e}");
        }
    }
    if let Some(p) = &cfg.base.files.dotenv {
        write_file("dotenv report", p, &artifact::render_dotenv(r));
    }
    if let Some(p) = &cfg.base.files.result {
        write_file("JSON result", p, &artifact::render_json(r));
    }
}
