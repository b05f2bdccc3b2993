//! Shared by the integration tests: the simulator in-process (real HTTP on loopback), the
//! real `pipeline-run` binary as a child process with a hermetic environment, and a
//! scratch directory per test.

use pipeline_run_sim::{ManualTime, ScaledTime, SimConfig, SimHandle, Simulator, WallTime};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pipeline-run");
/// A test run may not take longer than this.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "pipeline-run-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create scratch dir");
        Scratch(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The simulator on a real clock.
pub fn start_sim(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg, Arc::new(WallTime)).expect("start simulator")
}

/// The simulator on real time sped up `factor` times: the demo world's runs of several
/// seconds end in a fraction of one (the binary polls every 50 ms of real time).
pub fn start_sim_fast(cfg: SimConfig, factor: f64) -> SimHandle {
    Simulator::start(cfg, ScaledTime::new(factor)).expect("start simulator")
}

/// The simulator on a clock that moves only when the test moves it
/// ([`ManualTime::advance`]): a run goes on (a lag lasts) until the test has seen what it
/// waits for, however slowly the machine runs, and ends the moment it has.
pub fn start_sim_held(cfg: SimConfig) -> (SimHandle, Arc<ManualTime>) {
    let clock = ManualTime::new();
    let sim = Simulator::start(cfg, clock.clone()).expect("start simulator");
    (sim, clock)
}

/// Run the binary with `env` and `args` against a simulator on `clock` (see
/// [`start_sim_held`]): each time its log has the next text of `steps`, the clock moves on
/// by that step's duration, so the binary sees every phase of a run however slowly the
/// machine runs; its output.
pub fn stepped(
    clock: &ManualTime,
    env: &[(String, String)],
    args: &[&str],
    steps: &[(&str, Duration)],
) -> Output {
    let mut child = spawn(env, args);
    let live = LiveStderr::take(&mut child);
    for (text, d) in steps {
        wait_for(text, || live.contains(text));
        clock.advance(*d);
    }
    live.finish(child)
}

/// What the binary says once it has triggered a Matillion run.
pub const TRIGGERED: &str = "pipeline-run: triggered Matillion '";

/// Run the binary with `env` and `args` against a simulator on `clock` (see
/// [`start_sim_held`]): the run ends (the clock moves a minute on) once the log has
/// `said` (e.g. [`TRIGGERED`]), not after its own length; the output.
pub fn ended_once(
    clock: &ManualTime,
    env: &[(String, String)],
    args: &[&str],
    said: &str,
) -> Output {
    stepped(clock, env, args, &[(said, Duration::from_secs(60))])
}

/// Environment for a Matillion run against `sim` (demo credentials must match `cfg`),
/// with fast polling.
pub fn matillion_env(
    sim: &SimHandle,
    project: &str,
    environment: &str,
    pipeline: &str,
) -> Vec<(String, String)> {
    let c = sim.config();
    vec![
        ("MATILLION_API_URL".into(), sim.base_url()),
        ("MATILLION_TOKEN_URL".into(), sim.token_url()),
        ("MATILLION_CLIENT_ID".into(), c.client_id.clone()),
        ("MATILLION_CLIENT_SECRET".into(), c.client_secret.clone()),
        ("MATILLION_PROJECT".into(), project.into()),
        ("MATILLION_ENVIRONMENT".into(), environment.into()),
        ("MATILLION_PIPELINE".into(), pipeline.into()),
        ("MATILLION_POLL_INTERVAL".into(), "50ms".into()),
        ("MATILLION_MAX_POLL_INTERVAL".into(), "200ms".into()),
        ("MATILLION_TIMEOUT".into(), "30s".into()),
    ]
}

/// Set (or replace) a variable.
pub fn set(env: &mut Vec<(String, String)>, k: &str, v: impl Into<String>) {
    env.retain(|(n, _)| n != k);
    env.push((k.into(), v.into()));
}

/// Remove a variable.
pub fn unset(env: &mut Vec<(String, String)>, k: &str) {
    env.retain(|(n, _)| n != k);
}

/// What a finished run gave.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The binary's fixed durations (retries, cancel follow, signal windows) are divided by
/// this in the tests (the internal `PIPELINE_RUN_TEST_TIMINGS`), proportions kept; a test
/// that needs the real ones sets the variable to 1. Rates are not durations: `rate-limit`
/// (an input, like `poll-interval`) and the simulator's `rate_limit` stay real requests a
/// minute, so a test compares them as given. The request budget's own fixed durations are
/// divided: its floor (one request every 10 s after 429s: every second here, 60 a minute)
/// and its recovery (2 minutes: 12 s here).
pub const TIMINGS_DIVISOR: u32 = 10;

/// The binary with exactly `env` (plus PATH and the test timings), no proxies. Log lines
/// carry no time unless `env` says otherwise (`*LOG_TIMESTAMPS`), so tests can compare
/// them exactly.
pub fn command(env: &[(String, String)], args: &[&str]) -> Command {
    command_of(BIN, env, args)
}

/// [`command`] for another build of the binary (a measurement against an earlier one).
pub fn command_of(bin: &str, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_RUN_TEST_TIMINGS", TIMINGS_DIVISOR.to_string())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !env
        .iter()
        .any(|(k, _)| k.ends_with("LOG_TIMESTAMPS") || k.ends_with("LOG-TIMESTAMPS"))
    {
        cmd.env("MATILLION_LOG_TIMESTAMPS", "false");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Spawn the binary.
pub fn spawn(env: &[(String, String)], args: &[&str]) -> Child {
    command(env, args).spawn().expect("spawn pipeline-run")
}

/// Wait for a child, killing it after [`RUN_LIMIT`].
pub fn finish(mut child: Child) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for pipeline-run: {e}"),
        }
    }
    let out = child.wait_with_output().expect("collect output");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running child's stderr, read as it is written, so a test can wait for a line.
pub struct LiveStderr {
    text: Arc<std::sync::Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

impl LiveStderr {
    /// Take over `child`'s stderr.
    pub fn take(child: &mut Child) -> Self {
        use std::io::BufRead;
        let stderr = child.stderr.take().expect("stderr is piped");
        let text = Arc::new(std::sync::Mutex::new(String::new()));
        let sink = text.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut t = sink.lock().unwrap_or_else(|e| e.into_inner());
                t.push_str(&line);
                t.push('\n');
            }
        });
        Self { text, reader }
    }

    /// Whether the child has written `needle` so far.
    pub fn contains(&self, needle: &str) -> bool {
        self.text
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(needle)
    }

    /// Wait for the child to end; its output, with the stderr read here.
    pub fn finish(self, child: Child) -> Output {
        let mut out = finish(child);
        self.reader.join().expect("stderr reader");
        out.stderr = self.text.lock().unwrap_or_else(|e| e.into_inner()).clone();
        out
    }
}

/// Run the binary to its end.
pub fn run(env: &[(String, String)], args: &[&str]) -> Output {
    finish(spawn(env, args))
}

/// Wait for an observable event: poll `cond` every 10 ms for up to 20 s.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `text` (a log) has exactly this line.
pub fn has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line {line:?} in:\n{text}"
    );
}

/// Send a signal to a child (`INT`, `TERM`).
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig} failed");
}

/// Parse a GitHub file-command output file (`name<<DELIM` / value / `DELIM`, or
/// `name=value`) exactly as the runner does.
pub fn parse_outputs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_string(), value.join("\n")));
        } else if let Some((k, v)) = line.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        } else {
            panic!("invalid output line: {line:?}");
        }
    }
    out
}

/// One output's value.
pub fn output(outputs: &[(String, String)], name: &str) -> Option<String> {
    outputs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Whether `path` exists.
pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// Checks the table under `## {heading}` in docs/failure-handling.md: the last cell of every
/// row names tests in backticks (file names, `*.rs`, aside), each a `fn name()` in one of
/// `sources`. Returns how many rows the table has.
pub fn assert_failure_table_names_tests(heading: &str, sources: &[&str]) -> usize {
    const PAGE: &str = include_str!("../../docs/failure-handling.md");
    let table = PAGE
        .split(&format!("\n## {heading}\n"))
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .unwrap_or_else(|| panic!("docs/failure-handling.md has no section {heading:?}"));
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("| ---"))
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .collect();
    for row in &rows {
        let cell = row
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap_or_default();
        let names: Vec<&str> = cell
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|n| !n.ends_with(".rs"))
            .collect();
        assert!(!names.is_empty(), "a row without a test: {row}");
        for name in names {
            assert!(
                sources.iter().any(|s| s.contains(&format!("fn {name}()"))),
                "no test named {name}"
            );
        }
    }
    rows.len()
}
