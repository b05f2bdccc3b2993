//! A small `multipart/form-data` parser for the Datalab run endpoint: finds the boundary in
//! the `Content-Type`, splits the body into parts, and reads each part's field name,
//! file name and content type. Errors are messages for a 4xx answer, never panics.

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The field name.
    pub(crate) name: String,
    /// The file name, for file parts.
    pub(crate) filename: Option<String>,
    /// The part's `Content-Type`, if sent.
    pub(crate) content_type: Option<String>,
    /// The raw bytes.
    pub(crate) data: Vec<u8>,
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params_of(params)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

/// Split `; a=b; c="d;e"` into pairs, honouring quotes.
fn params_of(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ';' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_string();
            }
        }
        out.push((key.trim().to_string(), value));
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    let first = needle[0];
    let mut i = from;
    while i + needle.len() <= hay.len() {
        match hay[i..].iter().position(|b| *b == first) {
            None => return None,
            Some(p) => i += p,
        }
        if hay[i..].starts_with(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Parse a multipart body.
pub(crate) fn parse(content_type: &str, body: &[u8]) -> Result<Vec<Part>, String> {
    let b = boundary(content_type).ok_or("expected multipart/form-data with a boundary")?;
    let delim = format!("--{b}").into_bytes();
    let mut sep = b"\r\n".to_vec();
    sep.extend_from_slice(&delim);

    let first = find(body, &delim, 0).ok_or("multipart boundary not found")?;
    let mut pos = first + delim.len();
    let mut parts = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err("malformed multipart delimiter".into());
        }
        pos += 2;
        let (head, data_start) = if body[pos..].starts_with(b"\r\n") {
            (String::new(), pos + 2)
        } else {
            let head_end =
                find(body, b"\r\n\r\n", pos).ok_or("malformed multipart part headers")?;
            let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
            (head, head_end + 4)
        };
        let end =
            find(body, &sep, data_start.min(body.len())).ok_or("multipart body not terminated")?;
        let mut name = None;
        let mut filename = None;
        let mut ctype = None;
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let Some((k, v)) = line.split_once(':') else {
                return Err("malformed multipart part header".into());
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                let (_, params) = v.split_once(';').unwrap_or((v, ""));
                for (pk, pv) in params_of(params) {
                    match pk.to_ascii_lowercase().as_str() {
                        "name" => name = Some(pv),
                        "filename" => filename = Some(pv),
                        _ => {}
                    }
                }
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                ctype = Some(v.trim().to_string());
            }
        }
        parts.push(Part {
            name: name.ok_or("multipart part without a name")?,
            filename,
            content_type: ctype,
            data: body.get(data_start..end).unwrap_or_default().to_vec(),
        });
        pos = end + sep.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parts() {
        let ct = "multipart/form-data; boundary=\"XyZ\"";
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a;b.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--X\x00\r\n--XyZ\r\nContent-Disposition: form-data; name=page_range\r\n\r\n0,2-4\r\n--XyZ--\r\n";
        let parts = parse(ct, body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "file");
        assert_eq!(parts[0].filename.as_deref(), Some("a;b.pdf"));
        assert_eq!(parts[0].content_type.as_deref(), Some("application/pdf"));
        assert_eq!(parts[0].data, b"%PDF\r\n--X\x00");
        assert_eq!(parts[1].data, b"0,2-4");
        assert!(parse("text/plain", body).is_err());
        assert!(parse(ct, b"--XyZ\r\nbroken").is_err());
        assert!(parse(ct, b"").is_err());
    }
}
