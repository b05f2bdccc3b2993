//! The artifact upload's body, built by hand as `curl --form 'folder/x.orch.yaml=@file'`
//! sends it: one file part per file, `Content-Disposition: form-data; name="<path relative
//! to artifact-dir>"; filename="<its last component>"` and `Content-Type: text/plain`
//! (RFC 7578: a plain `name=`, never `name*=`; the name in UTF-8, as curl and browsers
//! send it). The names were checked beforehand ([`super::files::name_problem`]): no quote,
//! backslash or line break can end the parameter. The boundary is random and checked
//! against every file's content.

use super::files::ProjectFile;

/// How many random boundaries are tried before giving up (each is 128 random bits: one
/// that occurs in a file is already beyond belief).
const BOUNDARY_TRIES: usize = 4;

/// The `Content-Type` of a body with `boundary`.
pub(crate) fn content_type(boundary: &str) -> String {
    format!("multipart/form-data; boundary={boundary}")
}

/// A boundary (from `random`) that occurs in no file, or `None` after
/// [`BOUNDARY_TRIES`].
pub(crate) fn boundary_for(
    files: &[ProjectFile],
    mut random: impl FnMut() -> String,
) -> Option<String> {
    (0..BOUNDARY_TRIES)
        .map(|_| format!("pipeline-run-{}", random()))
        .find(|b| {
            let delimiter = format!("--{b}");
            !files
                .iter()
                .any(|f| contains(&f.bytes, delimiter.as_bytes()))
        })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The part's `filename`: the name's last component.
fn file_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The bytes of one part's head (boundary line and headers), for the body and for sizes.
fn head(name: &str, boundary: &str) -> String {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{}\"\r\nContent-Type: text/plain\r\n\r\n",
        file_name(name)
    )
}

/// The whole body. `files` are consumed one by one as the body grows (each file's content
/// is freed once copied).
pub(crate) fn body(files: Vec<ProjectFile>, boundary: &str) -> Vec<u8> {
    let size: usize = files
        .iter()
        .map(|f| head(&f.name, boundary).len() + f.bytes.len() + 2)
        .sum::<usize>()
        + boundary.len()
        + 6;
    let mut out = Vec::with_capacity(size);
    for f in files {
        out.extend_from_slice(head(&f.name, boundary).as_bytes());
        out.extend_from_slice(&f.bytes);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> ProjectFile {
        ProjectFile {
            name: name.into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn parts_are_file_parts_of_text_named_by_their_path() {
        let files = [
            file("folder/load.orch.yaml", "type: orchestration\n"),
            file("résumé.sql", ""),
        ];
        let body = body(files.to_vec(), "B");
        assert_eq!(
            String::from_utf8(body).expect("utf-8"),
            "--B\r\nContent-Disposition: form-data; name=\"folder/load.orch.yaml\"; filename=\"load.orch.yaml\"\r\nContent-Type: text/plain\r\n\r\ntype: orchestration\n\r\n\
             --B\r\nContent-Disposition: form-data; name=\"résumé.sql\"; filename=\"résumé.sql\"\r\nContent-Type: text/plain\r\n\r\n\r\n\
             --B--\r\n"
        );
        assert_eq!(content_type("B"), "multipart/form-data; boundary=B");
    }

    #[test]
    fn a_boundary_found_in_a_file_is_not_used() {
        let files = [file("a.txt", "x --pipeline-run-1 y")];
        let mut n = 0;
        let b = boundary_for(&files, || {
            n += 1;
            n.to_string()
        });
        assert_eq!(b.as_deref(), Some("pipeline-run-2"));
        assert_eq!(boundary_for(&files, || "1".into()), None);
    }
}
