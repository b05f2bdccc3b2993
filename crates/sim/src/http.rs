//! A tiny HTTP/1.1 server on `std::net::TcpListener`, just enough for the simulator:
//! one thread per connection, keep-alive, `Content-Length` and chunked request bodies,
//! responses always framed with `Content-Length`. Malformed requests get a 400 and the
//! connection is closed; nothing a client sends can panic the server.

mod read;
mod urlencoded;

pub(crate) use urlencoded::{parse_urlencoded, percent_decode, percent_encode};

use read::{ReadError, read_request};
use std::collections::HashMap;
use std::io::{self, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long an idle keep-alive connection is kept open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// One parsed HTTP request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The method, as sent (e.g. `GET`).
    pub(crate) method: String,
    /// The path, still percent-encoded, without the query string.
    pub(crate) path: String,
    /// The raw query string (after `?`, without it), possibly empty.
    pub(crate) query: String,
    /// Headers in order, names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub(crate) body: Vec<u8>,
}

/// The first of `headers` (names lower-case) named `name`, in any case.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

impl Request {
    /// The first header with this (case-insensitive) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The path split on `/`, each segment percent-decoded (empty segments dropped).
    pub(crate) fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect()
    }

    /// The decoded query parameters, in order.
    pub(crate) fn query_pairs(&self) -> Vec<(String, String)> {
        parse_urlencoded(&self.query)
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// Extra headers (`Content-Length` and `Connection` are added by the server).
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// A response with this status, content type and body.
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    /// A JSON response.
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json", value.to_string())
    }
}

/// What the handler wants done with a request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Send this response.
    Send(Response),
    /// Close the connection without answering.
    Close,
}

/// Handles one request; `conn` numbers the connection it arrived on (from 1).
pub(crate) type Handler = dyn Fn(Request, u64) -> Reply + Send + Sync;

/// A running server; stops on [`Server::stop`] or drop.
pub(crate) struct Server {
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
    pub(crate) fn start(listener: TcpListener, handler: Arc<Handler>) -> io::Result<Self> {
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
    pub(crate) fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Stop accepting and close every open connection.
    pub(crate) fn stop(&mut self) {
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
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
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
