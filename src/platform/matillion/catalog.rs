//! The catalog: the project (resolved by name once, shared by the clients of the pipelines
//! run beside this one), its environments and published pipelines, checked by a dry run,
//! and the names these credentials can see when one does not exist.

use super::wire::{NameItem, ProjectItem};
use super::{Matillion, auth_hint};
use crate::config::ProjectRef;
use crate::http::{Budget, HttpError, enc};
use crate::text::clean;
use crate::wait::Failure;
use serde_json::Value;

impl Matillion {
    /// The project's id: given, or looked up by name once for every client sharing it.
    pub(super) fn resolve_project(&self, budget: Budget) -> Result<String, Failure> {
        let name = match &self.cfg.project {
            ProjectRef::Id(id) => return Ok(id.clone()),
            ProjectRef::Name(n) => n,
        };
        // Another pipeline's client may be looking it up: wait for its answer (its lookup
        // is bounded by its budget), and look it up here only if it found none.
        let _one_at_a_time = self.resolving.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = self.project_id.get() {
            return Ok(id.clone());
        }
        let id = self.look_up_project(name, budget)?;
        let _ = self.project_id.set(id.clone());
        Ok(id)
    }

    fn look_up_project(&self, name: &str, budget: Budget) -> Result<String, Failure> {
        let projects: Vec<ProjectItem> = self
            .all_pages("/v1/projects", &[], "the project list", budget)
            .map_err(|e| Failure::from_http(e, "Matillion", "the project list", auth_hint))?;
        let matches: Vec<&ProjectItem> = projects.iter().filter(|p| p.name == name).collect();
        match matches.as_slice() {
            [one] => {
                log::info!("project '{name}' is {}", one.id);
                Ok(one.id.clone())
            }
            [] => Err(Failure::Refused(format!(
                "no project is named '{name}'. {}",
                candidates(
                    "Projects these credentials can see",
                    projects.iter().map(|p| p.name.as_str())
                )
            ))),
            several => Err(Failure::Refused(format!(
                "{} projects are named '{name}' (ids {}); give the project's id instead.",
                several.len(),
                several
                    .iter()
                    .map(|p| clean(&p.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Dry run: the project, the environment and the published pipeline exist; lines
    /// saying what would be sent.
    pub(super) fn dry_run(&self, budget: Budget) -> Result<Vec<String>, Failure> {
        let c = &self.cfg;
        let envs: Vec<NameItem> =
            self.environment_list(budget)
                .map_err(|e| match (e, &c.project) {
                    // A project id nobody can see: say so, and list the projects that exist.
                    (HttpError::Refused(p), ProjectRef::Id(id)) if p.status == 404 => {
                        self.unknown_project_id(id, budget)
                    }
                    (e, _) => Failure::from_http(e, "Matillion", "the environment list", auth_hint),
                })?;
        if !envs.iter().any(|e| e.name == c.environment) {
            return Err(Failure::Refused(format!(
                "environment '{}' does not exist in project '{}'. {}",
                c.environment,
                c.project,
                candidates("Its environments", envs.iter().map(|e| e.name.as_str()))
            )));
        }
        let published: Vec<NameItem> = self
            .all_pages(
                &format!("/v1/projects/{}/published-pipelines", enc(self.project())),
                &[("environmentName", c.environment.as_str())],
                "the published pipeline list",
                budget,
            )
            .map_err(|e| {
                Failure::from_http(e, "Matillion", "the published pipeline list", auth_hint)
            })?;
        if !published.iter().any(|p| p.name == c.pipeline) {
            return Err(Failure::Refused(format!(
                "pipeline '{}' is not published to environment '{}'. {}",
                c.pipeline,
                c.environment,
                candidates(
                    "Pipelines published there",
                    published.iter().map(|p| p.name.as_str())
                )
            )));
        }
        let mut lines = vec![format!(
            "dry run: project '{}', environment '{}' and pipeline '{}' exist",
            c.project, c.environment, c.pipeline
        )];
        if let Some(v) = &c.version {
            // The API lists published pipelines by name and time only, and has no way to
            // list an artifact's versions: only the trigger itself would say (404).
            log::warn!(
                "dry run: version '{}' was NOT checked: Matillion's API does not list the versions of a published pipeline, so an unknown version only shows when the run is triggered (404)",
                clean(v)
            );
        }
        let mut body = self.trigger_body();
        if let Some(Value::Object(vars)) = body.get_mut("scalarVariables") {
            // Values may be secret: show names only.
            for v in vars.values_mut() {
                *v = Value::String("***".into());
            }
        }
        if let Some(Value::Object(vars)) = body.get_mut("gridVariables") {
            for v in vars.values_mut() {
                *v = Value::String("***".into());
            }
        }
        lines.push(format!(
            "dry run: would send POST {} with {}",
            self.url(&format!(
                "/v1/projects/{}/pipeline-executions",
                enc(self.project())
            )),
            body
        ));
        Ok(lines)
    }

    /// Every environment of the project.
    pub(super) fn environment_list(&self, budget: Budget) -> Result<Vec<NameItem>, HttpError> {
        self.all_pages(
            &format!("/v1/projects/{}/environments", enc(self.project())),
            &[],
            "the environment list",
            budget,
        )
    }

    /// Dry run: the environment list said the project id does not exist.
    fn unknown_project_id(&self, id: &str, budget: Budget) -> Failure {
        let listed: Result<Vec<ProjectItem>, _> =
            self.all_pages("/v1/projects", &[], "the project list", budget);
        let seen = match listed {
            Ok(projects) => candidates(
                "Projects these credentials can see",
                projects
                    .iter()
                    .map(|p| format!("{} (id {})", p.name, p.id))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            ),
            Err(e) => format!("The project list could not be read either: {e}."),
        };
        Failure::Refused(format!(
            "project id '{}' does not exist (or these credentials cannot see it). {seen}",
            clean(id)
        ))
    }
}

fn candidates<'a>(label: &str, names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("'{}'", clean(n))).collect();
    if names.is_empty() {
        return format!("{label}: none.");
    }
    let shown: Vec<String> = names.iter().take(20).cloned().collect();
    let more = names.len().saturating_sub(shown.len());
    format!(
        "{label}: {}{}.",
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}
