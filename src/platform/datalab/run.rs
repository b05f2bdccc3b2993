//! The run request, sent at most once: a multipart form with the document (uploaded, or
//! by URL) and the options given; a lost reply is looked up before any second attempt, and
//! a refusal names the inputs it is about.

use super::wire::Execution;
use super::{Datalab, hint};
use crate::config::DatalabInput;
use crate::http::{Body, HttpError, Method, Part, Request, enc};
use crate::model::RunReport;
use crate::platform::once::{Adopted, LookUp, Once, trigger_at_most_once};
use crate::text::clean;
use crate::wait::{Failure, Waiter};

impl Datalab {
    /// The run request: the document (a file part, or `file_url`) and the options given,
    /// as a multipart form.
    pub(super) fn run_request(&self) -> Request {
        let c = &self.cfg;
        let mut parts = Vec::new();
        match &c.input {
            DatalabInput::File(p) => parts.push(Part::File("file".into(), p.clone())),
            DatalabInput::Url(u) => parts.push(Part::Text("file_url".into(), u.clone())),
            DatalabInput::Attached => {}
        }
        let mut text = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                parts.push(Part::Text(k.into(), v.clone()));
            }
        };
        text("version", &c.version);
        text("output_format", &c.output_format);
        text("page_range", &c.page_range);
        text("webhook_url", &c.webhook_url);
        text("skip_cache", &c.skip_cache.map(|b| b.to_string()));
        text("run_evals", &c.run_evals.map(|b| b.to_string()));
        Request {
            method: Method::Post,
            url: self.url(&format!("/api/v1/pipelines/{}/run", enc(&c.pipeline))),
            query: Vec::new(),
            body: Body::Multipart(parts),
            repeatable: false,
            urgent: false,
            what: "the run request".into(),
        }
    }

    /// Send the run request at most once: a lost reply is looked up (and the run adopted)
    /// before any second attempt.
    pub(super) fn trigger_once(
        &self,
        w: &Waiter<'_>,
        report: &mut RunReport,
    ) -> Result<String, Failure> {
        let req = self.run_request();
        let how = Once {
            platform: "Datalab",
            what: "the run request",
            again: "sending the run request again",
            look_up: LookUp::BeforeRetryWait,
        };
        trigger_at_most_once(
            w,
            report,
            how,
            |budget| {
                self.http
                    .json::<Execution>(&req, &self.auth, budget)
                    .map(|e| e.execution_id)
            },
            |first, budget| {
                Ok(self.find_own(first, budget)?.map(|e| Adopted {
                    note: format!(
                        "The run request's reply was lost; adopted execution {}, which it created.",
                        clean(&e.execution_id)
                    ),
                    id: e.execution_id,
                }))
            },
            |e, _, _| Err(run_refused(e)),
        )
    }
}

/// A refusal of the run request. A 422 is Datalab's validation error: its messages make
/// the sentence, each naming the input it is about.
pub(super) fn run_refused(e: HttpError) -> Failure {
    match e {
        HttpError::Refused(p) if p.status == 422 && !p.violations.is_empty() => {
            let items: Vec<String> = p.violations.iter().map(|v| name_input(v)).collect();
            Failure::Refused(format!(
                "Datalab refused the run request as invalid (422): {}.",
                items.join("; ").trim_end_matches('.')
            ))
        }
        e => Failure::from_http(e, "Datalab", "the run request", hint),
    }
}

/// `body.page_range: msg` → `page_range: msg (input 'page-range')`.
fn name_input(violation: &str) -> String {
    const FIELDS: &[(&str, &str)] = &[
        ("file", "file"),
        ("file_url", "file-url"),
        ("version", "pipeline-version"),
        ("output_format", "output-format"),
        ("page_range", "page-range"),
        ("skip_cache", "skip-cache"),
        ("run_evals", "run-evals"),
        ("webhook_url", "webhook-url"),
    ];
    let Some((loc, msg)) = violation.split_once(": ") else {
        return violation.to_string();
    };
    let field = loc.rsplit('.').next().unwrap_or(loc);
    match FIELDS.iter().find(|(f, _)| *f == field) {
        Some((f, input)) => format!("{f}: {} (input '{input}')", msg.trim_end_matches('.')),
        None => violation.to_string(),
    }
}
