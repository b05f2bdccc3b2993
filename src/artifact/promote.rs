//! `promote`: the version already in the target is a success with nothing sent; a version
//! the source lacks is a refusal naming both; otherwise the promotion is sent once, and an
//! answer that may hide a success is settled by the target's details. A dry run reads the
//! same details and sends nothing.

use super::decide;
use super::{Context, outcome_of, report_for, resolve};
use crate::http::{HttpError, clean};
use crate::platform::matillion::artifacts::{failure, promotion_body};
use crate::report::artifact::{ArtifactOutcome, ArtifactReport};

/// `promote`.
pub(super) fn run(ctx: &Context<'_>) -> ArtifactReport {
    let cfg = ctx.cfg;
    let mut report = report_for(cfg);
    log::info!(
        "promoting version '{}' from environment '{}' to '{}'",
        cfg.version,
        cfg.from_environment,
        cfg.environment()
    );
    if let Err(f) = resolve(ctx, &mut report) {
        report.outcome = outcome_of(f);
        return report;
    }
    report.outcome = match before(ctx, &mut report) {
        Some(outcome) => outcome,
        None if cfg.base.dry_run => {
            log::info!(
                "dry run: would send POST {} with {}",
                ctx.client.promotion_url(),
                promotion_body(&cfg.from_environment, cfg.environment(), &cfg.version)
            );
            ArtifactOutcome::DryRun
        }
        None => send(ctx, &mut report),
    };
    report
}

/// The checks before sending: `Some` when they decide (already in the target, not in the
/// source, a list that cannot be read).
fn before(ctx: &Context<'_>, report: &mut ArtifactReport) -> Option<ArtifactOutcome> {
    let cfg = ctx.cfg;
    let (to, from, version) = (
        cfg.environment(),
        cfg.from_environment.as_str(),
        &cfg.version,
    );
    if cfg.base.dry_run {
        if let Err(o) = check_environment(ctx, to).and_then(|()| check_environment(ctx, from)) {
            return Some(o);
        }
    }
    match ctx.client.artifact_details(to, version, ctx.budget) {
        Ok(Some(_)) => {
            let note = format!(
                "Version '{version}' is already in environment '{to}': nothing to promote."
            );
            log::info!("{note}");
            report.notes.push(note);
            return Some(if cfg.base.dry_run {
                ArtifactOutcome::DryRun
            } else {
                ArtifactOutcome::AlreadyPromoted
            });
        }
        Ok(None) => {}
        Err(f) => return Some(outcome_of(f)),
    }
    match ctx.client.artifact_details(from, version, ctx.budget) {
        Ok(Some(_)) => None,
        Ok(None) => Some(ArtifactOutcome::Refused {
            reason: format!(
                "version '{}' is not in environment '{}', so it cannot be promoted to '{}': publish it there first, or check the version and `from-environment`.",
                clean(version),
                clean(from),
                clean(to)
            ),
        }),
        Err(f) => Some(outcome_of(f)),
    }
}

/// Send the promotion once; settle an ambiguous answer by the target's details.
fn send(ctx: &Context<'_>, report: &mut ArtifactReport) -> ArtifactOutcome {
    let cfg = ctx.cfg;
    let (to, from, version) = (
        cfg.environment(),
        cfg.from_environment.as_str(),
        &cfg.version,
    );
    let e = match ctx.client.promote_artifact(from, to, version, ctx.budget) {
        Ok(p) => {
            if let Some(env) = p.environment_name.filter(|e| e != to) {
                let note = format!(
                    "Matillion answered that the version is now in '{}' (asked: '{to}').",
                    crate::text::one_line(&env)
                );
                log::warn!("{note}");
                report.notes.push(note);
            }
            log::info!("promoted version '{version}' from '{from}' to '{to}'");
            return ArtifactOutcome::Promoted;
        }
        Err(HttpError::Interrupted(signal)) => return ArtifactOutcome::Interrupted { signal },
        Err(e) if decide::read_details_after(&e) => e,
        Err(e) => return outcome_of(failure(e, "the promotion")),
    };
    log::warn!("the promotion: {e}; reading the details of version '{version}' in '{to}'");
    match ctx.client.artifact_details(to, version, ctx.budget) {
        Ok(Some(_)) => {
            let note =
                format!("The promotion's answer was {e}, but version '{version}' is in '{to}'.");
            log::info!("{note}");
            report.notes.push(note);
            ArtifactOutcome::Promoted
        }
        Ok(None) => outcome_of(failure(e, "the promotion")),
        Err(f) => outcome_of(f),
    }
}

/// Dry run: `environment` exists in the project.
pub(super) fn check_environment(
    ctx: &Context<'_>,
    environment: &str,
) -> Result<(), ArtifactOutcome> {
    let names = ctx
        .client
        .environment_names(ctx.budget)
        .map_err(outcome_of)?;
    if names.iter().any(|n| n == environment) {
        return Ok(());
    }
    let shown: Vec<String> = names
        .iter()
        .take(20)
        .map(|n| format!("'{}'", clean(n)))
        .collect();
    Err(ArtifactOutcome::Refused {
        reason: format!(
            "environment '{}' does not exist in the project. Its environments: {}.",
            clean(environment),
            if shown.is_empty() {
                "none".to_string()
            } else {
                shown.join(", ")
            }
        ),
    })
}
