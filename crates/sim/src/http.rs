//! A tiny HTTP/1.1 server on `std::net::TcpListener`, just enough for the simulator:
//! one thread per connection, keep-alive, `Content-Length` and chunked request bodies,
//! responses always framed with `Content-Length`. Malformed requests get a 400 and the
//! connection is closed; nothing a client sends can panic the server.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest request line or header line accepted.
const MAX_LINE: usize = 16 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 200;
/// Largest request body accepted.
const MAX_BODY: usize = 256 * 1024 * 1024;
/// How long an idle keep-alive connection is kept open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// One parsed HTTP request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method, as sent (e.g. `GET`).
    pub method: String,
    /// The path, still percent-encoded, without the query string.
    pub path: String,
    /// The raw query string (after `?`, without it), possibly empty.
    pub query: String,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// The first of `headers` (names lower-case) named `name`, in any case.
pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

impl Request {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The path split on `/`, each segment percent-decoded (empty segments dropped).
    pub fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect()
    }

    /// The decoded query parameters, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_urlencoded(&self.query)
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Extra headers (`Content-Length` and `Connection` are added by the server).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with this status, content type and body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json", value.to_string())
    }
}

/// What the handler wants done with a request.
#[derive(Debug)]
pub enum Reply {
    /// Send this response.
    Send(Response),
    /// Close the connection without answering.
    Close,
}

/// Handles one request; `conn` numbers the connection it arrived on (from 1).
pub type Handler = dyn Fn(Request, u64) -> Reply + Send + Sync;

/// A running server; stops on [`Server::stop`] or drop.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    connections: AtomicU64,
    live: Mutex<HashMap<u64, TcpStream>>,
}

impl Server {
    /// Bind `listener` and serve each request with `handler` until stopped.
    pub fn start(listener: TcpListener, handler: Arc<Handler>) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        });
        let sh = shared.clone();
        let accept = std::thread::Builder::new()
            .name("sim-accept".into())
            .spawn(move || accept_loop(listener, sh, handler))?;
        Ok(Self {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// How many TCP connections were accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Stop accepting and close every open connection.
    pub fn stop(&mut self) {
        if self.shared.stop.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let live = self.shared.live.lock().unwrap_or_else(|e| e.into_inner());
        for s in live.values() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, handler: Arc<Handler>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(clone) = stream.try_clone() {
            shared
                .live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, clone);
        }
        let sh = shared.clone();
        let h = handler.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("sim-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, id, &h);
                sh.live
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
            });
        if spawned.is_err() {
            log::warn!("simulator: could not spawn a connection thread");
        }
    }
}

/// Why reading a request failed.
enum ReadError {
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

fn serve_connection(stream: TcpStream, id: u64, handler: &Arc<Handler>) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let (req, keep_alive) = match read_request(&mut reader, &mut writer) {
            Ok(Some(r)) => r,
            Ok(None) | Err(ReadError::Gone) => break,
            Err(ReadError::Bad(status, msg)) => {
                let body =
                    serde_json::json!({"title": "Bad Request", "status": status, "detail": msg});
                let resp = Response::json(status, &body);
                let _ = write_response(&mut writer, &resp, false);
                break;
            }
        };
        match handler(req, id) {
            Reply::Send(resp) => {
                if write_response(&mut writer, &resp, keep_alive).is_err() || !keep_alive {
                    break;
                }
            }
            Reply::Close => break,
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
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
fn read_request(
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

fn write_response(w: &mut TcpStream, resp: &Response, keep_alive: bool) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (n, v) in &resp.headers {
        if n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("connection") {
            continue;
        }
        // Header values come from test configuration; keep them on one line.
        let v = v.replace(['\r', '\n'], " ");
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    out.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&resp.body);
    w.write_all(&bytes)?;
    w.flush()
}

/// The reason phrase for a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Decode `%XX` escapes (invalid ones are kept as written); with `plus_as_space`, `+`
/// becomes a space (form and query encoding).
pub fn percent_decode(s: &str, plus_as_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parse `a=1&b=x+y` (query strings and form bodies) into decoded pairs.
pub fn parse_urlencoded(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Percent-encode a query component (unreserved characters stay as they are).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        let pairs = parse_urlencoded("a=1&name=nightly+load%21&x&bad=%zz%4");
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("name".into(), "nightly load!".into()),
                ("x".into(), "".into()),
                ("bad".into(), "%zz%4".into()),
            ]
        );
        assert_eq!(percent_decode("a%2Fb+c", false), "a/b+c");
        assert_eq!(percent_decode("%", true), "%");
        assert_eq!(percent_decode("%4", true), "%4");
        assert_eq!(percent_decode("%41", true), "A");
    }

    #[test]
    fn strips_absolute_form() {
        assert_eq!(strip_authority("/a?b"), Some("/a?b"));
        assert_eq!(strip_authority("http://h:1/a?b"), Some("/a?b"));
        assert_eq!(strip_authority("http://h:1"), Some("/"));
        assert_eq!(strip_authority("*"), None);
    }
}
