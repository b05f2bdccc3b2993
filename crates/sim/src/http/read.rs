//! Reading one HTTP/1.1 request off a connection: the request line (origin or absolute
//! form), headers, `Expect: 100-continue`, and a `Content-Length` or chunked body, each
//! bounded; what is malformed becomes a [`ReadError::Bad`] status to answer with.

use super::Request;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// Longest request line or header line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 200;
/// Largest request body accepted.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Why reading a request failed.
pub(super) enum ReadError {
    /// The peer closed or the socket failed: just drop the connection.
    Gone,
    /// The request is malformed: answer with this status and message, then close.
    Bad(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Gone
    }
}

/// Read one line (without the line ending); `None` at a clean end of stream.
fn read_line(r: &mut impl BufRead) -> Result<Option<String>, ReadError> {
    let mut buf = Vec::new();
    let n = r.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        if buf.len() > MAX_LINE {
            return Err(ReadError::Bad(431, "line too long".into()));
        }
        return Err(ReadError::Gone);
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn bad(msg: &str) -> ReadError {
    ReadError::Bad(400, msg.to_string())
}

/// Read one request; `Ok(None)` when the peer closed between requests.
pub(super) fn read_request(
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
) -> Result<Option<(Request, bool)>, ReadError> {
    // Tolerate empty lines before the request line.
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad("malformed method"));
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(505, "unsupported HTTP version".into())),
    };
    let target = strip_authority(target).ok_or_else(|| bad("malformed request target"))?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };

    let mut headers = Vec::new();
    loop {
        let Some(l) = read_line(r)? else {
            return Err(ReadError::Gone);
        };
        if l.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad(431, "too many headers".into()));
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err(bad("malformed header line"));
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(bad("malformed header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    fn get<'a>(headers: &'a [(String, String)], n: &'a str) -> impl Iterator<Item = &'a String> {
        headers.iter().filter(move |(k, _)| k == n).map(|(_, v)| v)
    }

    let connection: Vec<String> = get(&headers, "connection")
        .map(|v| v.to_ascii_lowercase())
        .collect();
    let keep_alive = if http10 {
        connection.iter().any(|v| v.contains("keep-alive"))
    } else {
        !connection.iter().any(|v| v.contains("close"))
    };

    if get(&headers, "expect").any(|v| v.eq_ignore_ascii_case("100-continue")) {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }

    let chunked = match get(&headers, "transfer-encoding").last() {
        None => false,
        Some(te) if te.to_ascii_lowercase().trim().ends_with("chunked") => true,
        Some(_) => return Err(ReadError::Bad(501, "unsupported transfer encoding".into())),
    };
    let body = if chunked {
        read_chunked(r)?
    } else {
        let lengths: Vec<&String> = get(&headers, "content-length").collect();
        let len = match lengths.first() {
            None => 0,
            Some(first) => {
                if lengths.iter().any(|l| l != first) {
                    return Err(bad("conflicting Content-Length headers"));
                }
                first
                    .parse::<usize>()
                    .map_err(|_| bad("malformed Content-Length"))?
            }
        };
        if len > MAX_BODY {
            return Err(ReadError::Bad(413, "body too large".into()));
        }
        read_exact_vec(r, len)?
    };

    let req = Request {
        method: method.to_string(),
        path,
        query,
        headers,
        body,
    };
    Ok(Some((req, keep_alive)))
}

/// Accept origin-form (`/p?q`) and absolute-form (`http://host/p?q`) targets.
fn strip_authority(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))?;
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => Some(&rest[i..]),
        Some(_) | None => Some("/"),
    }
}

fn read_exact_vec(r: &mut impl Read, len: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::with_capacity(len.min(1024 * 1024));
    let got = r.take(len as u64).read_to_end(&mut body)?;
    if got != len {
        return Err(ReadError::Gone);
    }
    Ok(body)
}

fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or(ReadError::Gone)?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("malformed chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                match read_line(r)? {
                    None => return Err(ReadError::Gone),
                    Some(l) if l.is_empty() => return Ok(body),
                    Some(_) => {}
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Err(ReadError::Bad(413, "body too large".into()));
        }
        body.extend(read_exact_vec(r, size)?);
        let end = read_line(r)?.ok_or(ReadError::Gone)?;
        if !end.is_empty() {
            return Err(bad("malformed chunk"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_absolute_form() {
        assert_eq!(strip_authority("/a?b"), Some("/a?b"));
        assert_eq!(strip_authority("http://h:1/a?b"), Some("/a?b"));
        assert_eq!(strip_authority("http://h:1"), Some("/"));
        assert_eq!(strip_authority("*"), None);
    }
}
