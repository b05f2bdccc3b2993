//! TLS trust and proxies: the bundled roots refuse an unknown issuer at once (no retries, a
//! hint about `ca-bundle`); `ca-bundle` / `SSL_CERT_FILE` replace them; `HTTPS_PROXY` and
//! friends route requests through a proxy, and `NO_PROXY` bypasses it.
//!
//! The HTTPS server is `openssl s_server -WWW` with a certificate issued by the test CA in
//! `tests/fixtures/tls/` (valid for 127.0.0.1): it serves files, so a GET of the project
//! list is answered from a file and proves a whole request and response went through.

use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROJECT_ID: &str = "4a8a6162-702b-4efc-b2ec-c986e0bc95e4";

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
}

/// `openssl s_server -WWW` on loopback, serving files from a scratch directory.
struct TlsServer {
    child: Child,
    port: u16,
    _root: Scratch,
}

impl TlsServer {
    fn start() -> Self {
        let root = Scratch::new("tls");
        let dir = root.path("dpc/v1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("projects?page=0&size=100"),
            format!(
                r#"{{"page":0,"size":100,"total":1,"results":[{{"id":"{PROJECT_ID}","name":"Analytics"}}]}}"#
            ),
        )
        .unwrap();
        // An environment list without the run's environment: a dry run is refused at once.
        let project = dir.join("projects").join(PROJECT_ID);
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(
            project.join("environments?page=0&size=100"),
            r#"{"page":0,"size":100,"total":1,"results":[{"name":"dev"}]}"#,
        )
        .unwrap();
        let f = fixtures();
        // Port 0: s_server takes a free port and says which ("ACCEPT 127.0.0.1:PORT"), so
        // no other listener can be on the port that is tried (a port chosen beforehand can
        // be taken by another test's server in between, on a busy machine).
        let mut child = Command::new("openssl")
            .args(["s_server", "-WWW", "-accept", "127.0.0.1:0"])
            .arg("-cert")
            .arg(f.join("server.pem"))
            .arg("-key")
            .arg(f.join("server.key"))
            .current_dir(&root.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server (Debian package openssl; .ci/run installs it)");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let port = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                l.strip_prefix("ACCEPT 127.0.0.1:")
                    .and_then(|p| p.trim().parse::<u16>().ok())
            })
            .expect("s_server says where it listens");
        // What s_server says later is not needed, but must not fill the pipe.
        std::thread::spawn(move || lines.for_each(drop));
        TlsServer {
            child,
            port,
            _root: root,
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn env_for(url: &str) -> Vec<(String, String)> {
    vec![
        ("MATILLION_API_URL".into(), url.into()),
        ("MATILLION_ACCESS_TOKEN".into(), "tls-test-token".into()),
        ("MATILLION_PROJECT".into(), "Analytics".into()),
        ("MATILLION_ENVIRONMENT".into(), "prod".into()),
        ("MATILLION_PIPELINE".into(), "Load orders".into()),
        // Never reached where the run ends by itself: s_server answers one connection at
        // a time, slowly on a busy machine.
        ("MATILLION_TIMEOUT".into(), "20s".into()),
    ]
}

#[test]
fn an_untrusted_certificate_fails_at_once_with_a_hint() {
    let server = TlsServer::start();
    let env = env_for(&format!("https://127.0.0.1:{}/dpc", server.port));
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains(
            "pipeline-run: error: Matillion's TLS certificate is not trusted (io: invalid peer certificate: UnknownIssuer) — if a proxy inspects TLS, give its root certificate in `ca-bundle` (or SSL_CERT_FILE).\n"
        ),
        "{}",
        out.stderr
    );
    // Refused at once: no retry, and the token never went anywhere.
    assert!(!out.stderr.contains("retrying"), "{}", out.stderr);
}

#[test]
fn ca_bundle_and_ssl_cert_file_replace_the_bundled_roots() {
    let server = TlsServer::start();
    let ca = fixtures().join("ca.pem");
    // The two ways to give the bundle, side by side against the one server.
    std::thread::scope(|s| {
        for var in ["INPUT_CA-BUNDLE", "SSL_CERT_FILE"] {
            let (server, ca) = (&server, &ca);
            s.spawn(move || {
                let mut env = env_for(&format!("https://127.0.0.1:{}/dpc", server.port));
                set(&mut env, var, ca.to_string_lossy());
                // A dry run: only GETs, which s_server -WWW answers from its files (a trigger
                // it cannot take would wait for the deadline); it ends refused at the
                // environment list, which lacks 'prod'.
                set(&mut env, "MATILLION_DRY_RUN", "true");
                let out = run(&env, &[]);
                assert!(
                    out.stderr.contains(&format!(
                        "pipeline-run: trusting the 1 root certificate(s) in {} instead of the bundled ones\n",
                        ca.display()
                    )),
                    "{var}: {}",
                    out.stderr
                );
                // A whole request and response over TLS: the project list was read.
                assert!(
                    out.stderr.contains(&format!(
                        "pipeline-run: project 'Analytics' is {PROJECT_ID}\n"
                    )),
                    "{var}: {}",
                    out.stderr
                );
                assert!(!out.stderr.contains("not trusted"), "{var}: {}", out.stderr);
                // And the next one: the environment list.
                assert!(
                    out.stderr.contains(
                        "pipeline-run: error: environment 'prod' does not exist in project 'Analytics'"
                    ),
                    "{var}: {}",
                    out.stderr
                );
                assert_eq!(out.code, 4, "{var}: {out:?}");
            });
        }
    });
}

#[test]
fn a_bad_ca_bundle_is_an_input_error() {
    let scratch = Scratch::new("ca");
    std::fs::write(scratch.path("not.pem"), "hello").unwrap();
    let cases = [
        (
            "INPUT_CA-BUNDLE",
            scratch.path("not.pem"),
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----). Expected a PEM file of root certificates.",
            "from input 'ca-bundle'",
        ),
        (
            "SSL_CERT_FILE",
            scratch.path("missing.pem"),
            "cannot read it (No such file or directory (os error 2)). Expected a PEM file of root certificates.",
            "from SSL_CERT_FILE",
        ),
    ];
    for (var, path, why, from) in cases {
        let mut env = env_for("https://127.0.0.1:9/dpc");
        set(&mut env, var, path.to_string_lossy());
        let out = run(&env, &[]);
        assert_eq!(out.code, 2, "{out:?}");
        let want = format!(
            "pipeline-run: error: input 'ca-bundle': got '{}' ({from}); {why}\n",
            path.display()
        );
        assert!(
            out.stderr.contains(&want),
            "want {want:?} in\n{}",
            out.stderr
        );
    }
}

#[test]
fn the_ca_bundle_is_read_only_when_a_tls_connection_needs_it() {
    let scratch = Scratch::new("ca-lazy");
    let missing = scratch.path("missing.pem");
    // A bad input exits first: the bundle (which would be an error too) is not read.
    let mut env = env_for("https://127.0.0.1:9/dpc");
    set(&mut env, "SSL_CERT_FILE", missing.to_string_lossy());
    set(&mut env, "MATILLION_TIMEOUT", "90");
    let out = run(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("input 'timeout'"), "{}", out.stderr);
    assert!(!out.stderr.contains("ca-bundle"), "{}", out.stderr);
    // A run over plain HTTP makes no TLS connection: the bundle is never read.
    use pipeline_run_sim::{Environment, Project, PublishedPipeline, RunScript, SimConfig};
    let sim = start_sim(SimConfig::new().project(
        Project::new(PROJECT_ID, "Analytics").environment(Environment::new("prod").pipeline(
            PublishedPipeline::new("Load orders", RunScript::new(Duration::from_millis(100), 1)),
        )),
    ));
    let mut env = matillion_env(&sim, "Analytics", "prod", "Load orders");
    set(&mut env, "SSL_CERT_FILE", missing.to_string_lossy());
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("ca-bundle"), "{}", out.stderr);
}

/// A fake HTTP proxy that records the request lines it gets and answers 503.
fn fake_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(50) {
            let Ok(mut conn) = conn else { continue };
            // Read the request head (it may arrive in pieces).
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).into_owned();
            if let Some(line) = text.lines().next() {
                log.lock().unwrap().push(line.to_string());
            }
            let body = "proxy says no";
            let _ = write!(
                conn,
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

#[test]
fn proxy_variables_are_honoured_and_no_proxy_bypasses() {
    // Both runs end at the deadline: side by side, each with its own proxy.
    std::thread::scope(|s| {
        s.spawn(through_the_proxy);
        s.spawn(no_proxy_bypasses_it);
    });
}

fn env_with_proxy(port: u16) -> Vec<(String, String)> {
    let mut env = env_for("https://api.pipeline-run.invalid/dpc");
    set(&mut env, "MATILLION_TIMEOUT", "1s");
    set(&mut env, "HTTPS_PROXY", format!("http://127.0.0.1:{port}"));
    env
}

fn through_the_proxy() {
    let (port, seen) = fake_proxy();
    let out = run(&env_with_proxy(port), &[]);
    assert_eq!(out.code, 4, "{out:?}");
    let lines = seen.lock().unwrap().clone();
    assert!(!lines.is_empty(), "the proxy saw nothing: {}", out.stderr);
    // The API is reached through a tunnel the proxy opens (the host is resolved there).
    assert!(
        lines
            .iter()
            .all(|l| l == "CONNECT api.pipeline-run.invalid:443 HTTP/1.1"),
        "{lines:?}"
    );
    assert!(
        out.stderr
            .contains("could not be reached for the project list before the deadline"),
        "{}",
        out.stderr
    );
}

fn no_proxy_bypasses_it() {
    // The same host in NO_PROXY goes direct (and fails to resolve): the proxy sees nothing.
    let (port, seen) = fake_proxy();
    let mut env = env_with_proxy(port);
    set(
        &mut env,
        "NO_PROXY",
        "127.0.0.1,localhost,api.pipeline-run.invalid",
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
}
