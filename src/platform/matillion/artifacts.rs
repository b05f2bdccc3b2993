//! Artifacts: create one (a multipart upload, sent once: never repeated here), read the
//! details of one version in an environment, promote a version from one environment to
//! another (sent once too), and the environments' names for a dry run. What to make of an
//! ambiguous answer is decided by the caller (the crate's `artifact` module), which reads
//! the details.
//!
//! The API's success codes and its answer to a duplicate version are not documented: any
//! 2xx is taken, and every reply is read leniently (a field missing, `null` or of another
//! type reads as unknown). The details of one version are asked with `versionName`; a
//! reply about another version (a server that ignores the query and answers with the
//! latest) does not count as the version asked for.

use super::{Matillion, auth_hint};
use crate::http::{Body, Budget, HttpError, Method, Request, Upload, enc};
use crate::lenient::de;
use crate::wait::Failure;
use serde::Deserialize;

/// One resource the platform left out of an artifact, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Ignored {
    /// The resource's name, as the platform sent it.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub(crate) name: Option<String>,
    /// Why it was left out.
    #[serde(default, deserialize_with = "de::opt_text")]
    pub(crate) reason: Option<String>,
}

/// The reply to a create.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Created {
    /// The version created.
    #[serde(deserialize_with = "de::opt_text")]
    pub(crate) version_name: Option<String>,
    /// The resources left out.
    #[serde(deserialize_with = "de::list")]
    pub(crate) ignored_resources: Vec<Ignored>,
}

/// The details of one version in one environment.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Details {
    /// `versionName`.
    #[serde(deserialize_with = "de::opt_text")]
    pub(crate) version_name: Option<String>,
    /// `commitHash`.
    #[serde(deserialize_with = "de::opt_text")]
    pub(crate) commit_hash: Option<String>,
    /// `branch`.
    #[serde(deserialize_with = "de::opt_text")]
    pub(crate) branch: Option<String>,
    /// `createdAt`.
    #[serde(deserialize_with = "de::opt_text")]
    pub(crate) created_at: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DetailsReply {
    #[serde(deserialize_with = "de::opt_object")]
    details: Option<Details>,
}

/// The reply to a promotion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Promoted {
    /// The environment the version is now in.
    #[serde(deserialize_with = "de::opt_text")]
    pub(crate) environment_name: Option<String>,
    /// The version promoted.
    #[serde(deserialize_with = "de::opt_text")]
    pub(crate) version_name: Option<String>,
}

impl Matillion {
    /// The project's id (looked up by name once), for the artifact requests.
    pub(crate) fn artifact_project(&self, budget: Budget) -> Result<String, Failure> {
        let id = self.resolve_project(budget)?;
        let _ = self.project_id.set(id.clone());
        Ok(id)
    }

    /// A client like this one (same token, same project, same connections) whose every
    /// attempt may take `attempt_timeout`: an upload of many megabytes takes longer than a
    /// read.
    pub(crate) fn uploader(&self, attempt_timeout: std::time::Duration) -> Matillion {
        let mut http = self.http.clone();
        http.attempt_timeout = attempt_timeout;
        Matillion::new(self.cfg.clone(), http, self.auth.clone()).sharing_project_with(self)
    }

    fn artifacts_url(&self, tail: &str) -> String {
        self.url(&format!(
            "/v1/projects/{}/artifacts{tail}",
            enc(self.project())
        ))
    }

    /// The URL a create is sent to (for a dry run's listing).
    pub(crate) fn create_url(&self) -> String {
        self.artifacts_url("")
    }

    /// The URL a promotion is sent to.
    pub(crate) fn promotion_url(&self) -> String {
        self.artifacts_url("/promotions")
    }

    /// `POST .../artifacts`: sent once. A lost reply, a 5xx or a 2xx whose body cannot be
    /// read is [`HttpError::Ambiguous`]; the caller reads the details before anything else.
    pub(crate) fn create_artifact(
        &self,
        upload: Upload,
        budget: Budget,
    ) -> Result<Created, HttpError> {
        let req = Request {
            method: Method::Post,
            url: self.create_url(),
            query: Vec::new(),
            body: Body::Upload(upload),
            repeatable: false,
            urgent: false,
            what: "the artifact upload".into(),
        };
        self.http.json(&req, &self.auth, budget)
    }

    /// `GET .../artifacts/details` of `version` in `environment`: `None` when there is
    /// none (404), or when the reply is about another version.
    pub(crate) fn artifact_details(
        &self,
        environment: &str,
        version: &str,
        budget: Budget,
    ) -> Result<Option<Details>, Failure> {
        let req = Request::get(self.artifacts_url("/details"), "the artifact details")
            .query("environmentName", environment)
            .query("versionName", version);
        match self.get::<DetailsReply>(&req, budget) {
            Ok(reply) => Ok(reply
                .details
                .filter(|d| d.version_name.as_deref().map(str::trim) == Some(version))),
            Err(HttpError::Refused(p)) if p.status == 404 => Ok(None),
            Err(e) => Err(Failure::from_http(
                e,
                "Matillion",
                "the artifact details",
                auth_hint,
            )),
        }
    }

    /// `POST .../artifacts/promotions`: sent once (see [`Matillion::create_artifact`]).
    pub(crate) fn promote_artifact(
        &self,
        from: &str,
        to: &str,
        version: &str,
        budget: Budget,
    ) -> Result<Promoted, HttpError> {
        let req = Request {
            method: Method::Post,
            url: self.promotion_url(),
            query: Vec::new(),
            body: Body::Json(promotion_body(from, to, version)),
            repeatable: false,
            urgent: false,
            what: "the promotion".into(),
        };
        self.http.json(&req, &self.auth, budget)
    }

    /// The names of the project's environments.
    pub(crate) fn environment_names(&self, budget: Budget) -> Result<Vec<String>, Failure> {
        let envs = self
            .environment_list(budget)
            .map_err(|e| Failure::from_http(e, "Matillion", "the environment list", auth_hint))?;
        Ok(envs.into_iter().map(|e| e.name).collect())
    }
}

/// A failure of an artifact request, said as every other Matillion failure is.
pub(crate) fn failure(e: HttpError, what: &str) -> Failure {
    Failure::from_http(e, "Matillion", what, auth_hint)
}

/// The body of a promotion.
pub(crate) fn promotion_body(from: &str, to: &str, version: &str) -> serde_json::Value {
    serde_json::json!({
        "sourceEnvironmentName": from,
        "targetEnvironmentName": to,
        "versionName": version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_leniently() {
        let c: Created = crate::lenient::parse(
            r#"{"versionName": "v1", "ignoredResources": [{"name": "README.md", "reason": "Unsupported file type"}, 7, {"name": null}]}"#,
        )
        .expect("read");
        assert_eq!(c.version_name.as_deref(), Some("v1"));
        assert_eq!(
            c.ignored_resources,
            [
                Ignored {
                    name: Some("README.md".into()),
                    reason: Some("Unsupported file type".into())
                },
                Ignored {
                    name: None,
                    reason: None
                }
            ]
        );
        let c: Created = crate::lenient::parse(r#"{"ignoredResources": null}"#).expect("read");
        assert!(c.ignored_resources.is_empty());
        let d: DetailsReply = crate::lenient::parse(
            r#"{"details": {"versionName": "v1", "commitHash": 12, "branch": "main", "enabled": true}, "assets": ["a"]}"#,
        )
        .expect("read");
        let d = d.details.expect("details");
        assert_eq!(
            (
                d.version_name.as_deref(),
                d.commit_hash,
                d.branch.as_deref()
            ),
            (Some("v1"), Some("12".to_string()), Some("main"))
        );
    }
}
