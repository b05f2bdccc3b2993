//! Links to an execution in the platform's web app: the one place that knows the URL
//! pattern. The outputs, the dotenv report, the JSON result and the job summary call
//! [`execution_url_of`]; the log line right after the trigger calls [`execution_url`].
//!
//! Matillion's public clients open an execution at
//! `https://app.matillion.com/observability-dashboard/pipeline/<execution id>`. Datalab has
//! no such page, so no link is made there. The id comes from the platform (remote text):
//! a link is only made for an id of at most [`MAX_ID_CHARS`] characters from
//! `A-Z a-z 0-9 - _ .`, which needs no encoding in a URL, a Markdown link, an output or a
//! dotenv value. Anything else gets no link rather than a surprising one.

use crate::model::{PlatformKind, RunReport};

/// The page of a Matillion execution, without the id.
pub(crate) const MATILLION_EXECUTION_URL_PREFIX: &str =
    "https://app.matillion.com/observability-dashboard/pipeline/";

/// The longest execution id a link is made for (Matillion's are 36-character UUIDs).
pub(crate) const MAX_ID_CHARS: usize = 100;

/// The web page of execution `execution_id` on `platform`, when there is one.
pub(crate) fn execution_url(platform: PlatformKind, execution_id: &str) -> Option<String> {
    let id_ok = !execution_id.is_empty()
        && execution_id.len() <= MAX_ID_CHARS
        && execution_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !execution_id.bytes().all(|b| b == b'.');
    match platform {
        PlatformKind::Matillion if id_ok => {
            Some(format!("{MATILLION_EXECUTION_URL_PREFIX}{execution_id}"))
        }
        _ => None,
    }
}

/// The web page of the report's execution, once it has an id and the platform has pages.
pub(crate) fn execution_url_of(report: &RunReport) -> Option<String> {
    execution_url(report.platform, report.execution_id.as_deref()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matillion_links_a_uuid() {
        assert_eq!(
            execution_url(
                PlatformKind::Matillion,
                "7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a"
            )
            .as_deref(),
            Some(
                "https://app.matillion.com/observability-dashboard/pipeline/7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a"
            )
        );
    }

    #[test]
    fn datalab_has_no_page() {
        assert_eq!(execution_url(PlatformKind::Datalab, "ex_1"), None);
    }

    #[test]
    fn odd_ids_get_no_link() {
        for id in [
            "",
            "..",
            "a/b",
            "../../x",
            "a b",
            "a)b",
            "a\nb",
            "x?y=1",
            "é",
            &"a".repeat(101),
        ] {
            assert_eq!(execution_url(PlatformKind::Matillion, id), None, "{id:?}");
        }
        assert!(execution_url(PlatformKind::Matillion, &"a".repeat(100)).is_some());
    }

    #[test]
    fn a_report_without_an_id_has_no_link() {
        let r = RunReport::new(PlatformKind::Matillion, "p");
        assert_eq!(execution_url_of(&r), None);
    }
}
