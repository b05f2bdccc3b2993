//! Percent-encoding of what this program puts into a request: URL path segments and the
//! file name of an upload. The `percent-encoding` crate does the encoding; this module
//! only says which characters each place keeps.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode, utf8_percent_encode};

/// What a path segment keeps as it is: RFC 3986's unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a URL path segment: everything but ASCII letters, digits and `-_.~`
/// becomes `%XX` (the bytes of its UTF-8 form), so an id can never add a segment or a query.
pub(crate) fn enc(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

/// The `filename` sent for an upload: the path's last component, with `"`, CR, LF and
/// other control characters percent-encoded as browsers do, so that a file name can never
/// end the quoted parameter or start a header of its own. Everything else, non-ASCII
/// letters included, is kept.
pub(crate) fn upload_file_name(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".into());
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '"' || c.is_control() {
            let mut buf = [0u8; 4];
            out.extend(percent_encode(
                c.encode_utf8(&mut buf).as_bytes(),
                NON_ALPHANUMERIC,
            ));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn path_segments_keep_only_unreserved_characters() {
        assert_eq!(enc("Az09-_.~"), "Az09-_.~");
        assert_eq!(enc("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
        assert_eq!(enc("../x"), "..%2Fx");
        assert_eq!(enc("Größe"), "Gr%C3%B6%C3%9Fe");
    }

    #[test]
    fn upload_names_encode_quotes_and_controls_only() {
        assert_eq!(
            upload_file_name(Path::new("/w/in voice\"\r\n.pdf")),
            "in voice%22%0D%0A.pdf"
        );
        assert_eq!(upload_file_name(Path::new("dir/résumé.pdf")), "résumé.pdf");
        assert_eq!(
            upload_file_name(Path::new("a\u{7f}b\u{85}c.csv")),
            "a%7Fb%C2%85c.csv"
        );
        assert_eq!(upload_file_name(Path::new("/")), "upload");
    }
}
