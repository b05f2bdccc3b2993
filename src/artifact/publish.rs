//! `publish`: the files found, said; the project resolved; the upload built once (in
//! memory) and sent at most [`MAX_CREATE_SENDS`] times, each further send only after the
//! details showed that the version does not exist (a duplicate is refused by the API, and
//! then the details decide again). A dry run lists the files, the headers and where the
//! upload would go, checks the environment and the version, and sends nothing.

use super::decide::{self, Existing};
use super::files::Collected;
use super::multipart;
use super::{Context, outcome_of, pause, report_for, resolve};
use crate::http::{HttpError, Upload};
use crate::platform::matillion::artifacts::{Created, failure};
use crate::report::artifact::{
    ArtifactOutcome, ArtifactReport, IgnoredResource, LeftOutFile, SentFile,
};
use crate::report::summary::size;
use std::sync::Arc;
use std::time::Duration;

/// The most times the upload is sent (each after the details showed no such version).
pub(crate) const MAX_CREATE_SENDS: u32 = 3;
/// How long one attempt of the upload may take (a large upload on a slow link).
pub(crate) const UPLOAD_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `publish`, with the files already read.
pub(super) fn run(ctx: &Context<'_>, files: Collected) -> ArtifactReport {
    let cfg = ctx.cfg;
    let mut report = report_for(cfg);
    report.bytes = files.bytes();
    report.files = files
        .files
        .iter()
        .map(|f| SentFile {
            name: f.name.clone(),
            bytes: f.bytes.len() as u64,
        })
        .collect();
    report.left_out = files
        .left_out
        .iter()
        .map(|l| LeftOutFile {
            name: l.name.clone(),
            why: l.why.to_string(),
        })
        .collect();
    for l in &files.left_out {
        log::warn!("left out '{}': {}", crate::text::one_line(&l.name), l.why);
    }
    log::info!(
        "publishing {} file(s), {}, from {} as version '{}' ({}) to environment '{}'",
        report.files.len(),
        size(report.bytes),
        cfg.dir.display(),
        cfg.version,
        cfg.version_from,
        cfg.environment()
    );
    if cfg.base.dry_run {
        report.outcome = dry_run(ctx, &mut report);
        return report;
    }
    if let Err(f) = resolve(ctx, &mut report) {
        report.outcome = outcome_of(f);
        return report;
    }
    let Some(boundary) = multipart::boundary_for(&files.files, crate::token::random_token) else {
        report.outcome = ArtifactOutcome::Refused {
            reason: "no multipart boundary could be found that occurs in no file".into(),
        };
        return report;
    };
    let upload = Upload {
        content_type: multipart::content_type(&boundary),
        headers: headers(ctx),
        bytes: Arc::new(multipart::body(files.files, &boundary)),
    };
    report.outcome = create(ctx, upload, &mut report);
    report
}

/// The headers that describe the upload: `versionName`, `environmentName`, and
/// `commitHash` and `branch` when the CI names them (all checked to be header-safe).
fn headers(ctx: &Context<'_>) -> Vec<(String, String)> {
    let cfg = ctx.cfg;
    let mut h = vec![
        ("versionName".to_string(), cfg.version.clone()),
        ("environmentName".to_string(), cfg.environment().to_string()),
    ];
    if let Some(c) = &cfg.commit {
        h.push(("commitHash".into(), c.clone()));
    }
    if let Some(b) = &cfg.branch {
        h.push(("branch".into(), b.clone()));
    }
    h
}

/// Send the upload; after an answer that may hide a success, read the details first.
fn create(ctx: &Context<'_>, upload: Upload, report: &mut ArtifactReport) -> ArtifactOutcome {
    let uploader = ctx.client.uploader(UPLOAD_ATTEMPT_TIMEOUT);
    let mut delay = ctx.timings.retry_initial.max(Duration::from_millis(100));
    for send in 1..=MAX_CREATE_SENDS {
        let e = match uploader.create_artifact(upload.clone(), ctx.budget) {
            Ok(created) => return published(created, report),
            Err(HttpError::Interrupted(signal)) => return ArtifactOutcome::Interrupted { signal },
            Err(e) if decide::read_details_after(&e) => e,
            Err(e) => return outcome_of(failure(e, "the artifact upload")),
        };
        log::warn!(
            "the artifact upload: {e}; reading the details of version '{}' before anything else",
            ctx.cfg.version
        );
        match settled(ctx, &e, report) {
            Some(outcome) => return outcome,
            None if send < MAX_CREATE_SENDS => {
                log::warn!(
                    "version '{}' is not in environment '{}': the upload did not create it; sending it again in {}",
                    ctx.cfg.version,
                    ctx.cfg.environment(),
                    humantime::format_duration(delay)
                );
                if let Err(o) = pause(ctx, delay) {
                    return o;
                }
                delay = (delay * 2).min(ctx.timings.retry_max);
            }
            None => {}
        }
    }
    ArtifactOutcome::Refused {
        reason: format!(
            "the artifact upload got no usable answer {MAX_CREATE_SENDS} times, and version '{}' is not in environment '{}'.",
            crate::http::clean(&ctx.cfg.version),
            crate::http::clean(ctx.cfg.environment())
        ),
    }
}

/// After an ambiguous answer `e`: what the details say, or `None` when the version does
/// not exist and the upload may be sent again (only after no usable reply at all).
fn settled(
    ctx: &Context<'_>,
    e: &HttpError,
    report: &mut ArtifactReport,
) -> Option<ArtifactOutcome> {
    let cfg = ctx.cfg;
    let details = match ctx
        .client
        .artifact_details(cfg.environment(), &cfg.version, ctx.budget)
    {
        Ok(d) => d,
        Err(f) => {
            return Some(match f {
                crate::wait::Failure::Interrupted(signal) => {
                    ArtifactOutcome::Interrupted { signal }
                }
                f => ArtifactOutcome::Refused {
                    reason: format!(
                        "the artifact upload: {e}; and its details could not be read to tell whether it was created: {f}"
                    ),
                },
            });
        }
    };
    match (details, e) {
        (Some(d), _) => Some(
            match decide::existing(&d, &cfg.version, cfg.environment(), cfg.commit.as_deref()) {
                Existing::Same => {
                    let note = format!(
                        "Version '{}' was already published to '{}' with the same commit: nothing new was created.",
                        cfg.version,
                        cfg.environment()
                    );
                    log::info!("{note}");
                    report.notes.push(note);
                    ArtifactOutcome::AlreadyPublished
                }
                Existing::Conflict(reason) => ArtifactOutcome::Refused { reason },
            },
        ),
        (None, HttpError::Ambiguous(_)) => None,
        (None, e) => Some(ArtifactOutcome::Refused {
            reason: failure(e.clone(), "the artifact upload").to_string(),
        }),
    }
}

/// A create that was answered: its ignored resources, each a warning.
fn published(created: Created, report: &mut ArtifactReport) -> ArtifactOutcome {
    for i in created.ignored_resources {
        let name = i.name.unwrap_or_default();
        let reason = i.reason.unwrap_or_default();
        log::warn!(
            "Matillion left '{}' out of the artifact: {}",
            crate::text::one_line(&name),
            crate::text::one_line(if reason.is_empty() {
                "no reason given"
            } else {
                &reason
            })
        );
        report
            .ignored_resources
            .push(IgnoredResource { name, reason });
    }
    if let Some(v) = created.version_name.filter(|v| *v != report.version) {
        let note = format!(
            "Matillion named the version '{}' (asked: '{}').",
            crate::text::one_line(&v),
            report.version
        );
        log::warn!("{note}");
        report.notes.push(note);
    }
    ArtifactOutcome::Published
}

/// The dry run: files and headers, then the checks (project, environment, version).
fn dry_run(ctx: &Context<'_>, report: &mut ArtifactReport) -> ArtifactOutcome {
    for f in &report.files {
        log::info!("dry run: would send {} ({})", f.name, size(f.bytes));
    }
    for (name, value) in headers(ctx) {
        log::info!("dry run: with header {name}: {value}");
    }
    if let Err(f) = resolve(ctx, report) {
        return outcome_of(f);
    }
    log::info!(
        "dry run: would send POST {} (multipart/form-data, one text/plain part per file)",
        ctx.client.create_url()
    );
    super::promote::check_environment(ctx, ctx.cfg.environment())
        .err()
        .or_else(|| existing_version(ctx))
        .unwrap_or(ArtifactOutcome::DryRun)
}

/// Dry run: what an existing version would make of this publish.
fn existing_version(ctx: &Context<'_>) -> Option<ArtifactOutcome> {
    let cfg = ctx.cfg;
    match ctx
        .client
        .artifact_details(cfg.environment(), &cfg.version, ctx.budget)
    {
        Ok(None) => {
            log::info!(
                "dry run: version '{}' does not exist in '{}' yet",
                cfg.version,
                cfg.environment()
            );
            None
        }
        Ok(Some(d)) => {
            match decide::existing(&d, &cfg.version, cfg.environment(), cfg.commit.as_deref()) {
                Existing::Same => {
                    log::info!(
                        "dry run: version '{}' is already published with the same commit; a publish would say so and create nothing",
                        cfg.version
                    );
                    None
                }
                Existing::Conflict(reason) => Some(ArtifactOutcome::Refused { reason }),
            }
        }
        Err(f) => Some(outcome_of(f)),
    }
}
