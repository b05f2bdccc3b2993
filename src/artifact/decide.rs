//! The decisions of `publish` and `promote`, as pure functions: what an existing version
//! means for this publish (the same commit: already published; another: a conflict), and
//! which create answers call for reading the details before anything else.

use crate::http::HttpError;
use crate::platform::matillion::artifacts::Details;

/// What an existing version means for this publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Existing {
    /// The same version with the same commit: published already (by an earlier try or an
    /// earlier run of this job).
    Same,
    /// Another artifact holds the version: the sentence says which commits.
    Conflict(String),
}

/// Commits are compared without case and surrounding space (hex digits).
fn same_commit(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// `existing` (the details of `version` in `environment`) against the commit this publish
/// sends. Without a commit on either side the two cannot be told apart: that is a
/// conflict too (a version is never assumed to be this one).
pub(crate) fn existing(
    existing: &Details,
    version: &str,
    environment: &str,
    ours: Option<&str>,
) -> Existing {
    let theirs = existing
        .commit_hash
        .as_deref()
        .filter(|c| !c.trim().is_empty());
    let clean = crate::http::clean;
    let head = format!(
        "version '{}' already exists in environment '{}'",
        clean(version),
        clean(environment)
    );
    match (ours, theirs) {
        (Some(o), Some(t)) if same_commit(o, t) => Existing::Same,
        (Some(o), Some(t)) => Existing::Conflict(format!(
            "{head} with commit {}, and this publish is of commit {}: versions cannot be overwritten; give another version.",
            clean(t),
            clean(o)
        )),
        (Some(o), None) => Existing::Conflict(format!(
            "{head} with no commit, and this publish is of commit {}: versions cannot be overwritten; give another version.",
            clean(o)
        )),
        (None, Some(t)) => Existing::Conflict(format!(
            "{head} with commit {}, and this publish names no commit (no GITHUB_SHA or CI_COMMIT_SHA) to compare: give another version.",
            clean(t)
        )),
        (None, None) => Existing::Conflict(format!(
            "{head}; neither it nor this publish names a commit, so they cannot be told apart: give another version."
        )),
    }
}

/// Whether a create (or promotion) answer may hide a success, so that the details are
/// read before anything else: no usable reply (lost, a 5xx, a 2xx that cannot be read),
/// a conflict (409) or a 400 (the answer to a duplicate version is not documented).
pub(crate) fn read_details_after(e: &HttpError) -> bool {
    match e {
        HttpError::Ambiguous(_) => true,
        HttpError::Refused(p) => matches!(p.status, 400 | 409),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Problem;

    fn with_commit(c: Option<&str>) -> Details {
        Details {
            version_name: Some("v1".into()),
            commit_hash: c.map(str::to_string),
            ..Details::default()
        }
    }

    #[test]
    fn the_same_commit_is_already_published_another_is_a_conflict() {
        let d = with_commit(Some("ABCDEF12"));
        assert_eq!(existing(&d, "v1", "test", Some("abcdef12")), Existing::Same);
        assert_eq!(
            existing(&d, "v1", "test", Some("0123")),
            Existing::Conflict("version 'v1' already exists in environment 'test' with commit ABCDEF12, and this publish is of commit 0123: versions cannot be overwritten; give another version.".into())
        );
        assert!(matches!(
            existing(&with_commit(None), "v1", "test", None),
            Existing::Conflict(m) if m.contains("cannot be told apart")
        ));
        assert!(matches!(
            existing(&with_commit(Some(" ")), "v1", "test", Some("01")),
            Existing::Conflict(m) if m.contains("with no commit")
        ));
    }

    #[test]
    fn what_calls_for_reading_the_details() {
        let refused = |s| HttpError::Refused(Problem::parse(s, ""));
        assert!(read_details_after(&HttpError::Ambiguous("lost".into())));
        assert!(read_details_after(&refused(409)));
        assert!(read_details_after(&refused(400)));
        assert!(!read_details_after(&refused(403)));
        assert!(!read_details_after(&HttpError::Deadline("x".into())));
    }
}
