//! What the sections of the `budgets` bench share: the rows of the final table, the
//! simulator's one-pipeline world and the inputs a CI job would give for it, and running
//! the release binary as a child process against the simulator on the real clock, in a
//! scratch directory, with its peak memory measured.

use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, RunScript, SimConfig, SimHandle, Simulator, WallTime,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(crate) type Res<T> = Result<T, String>;

/// One line of the final table.
pub(crate) struct Row {
    pub(crate) figure: String,
    pub(crate) measured: String,
    pub(crate) budget: String,
    pub(crate) pass: bool,
}

pub(crate) fn row(rows: &mut Vec<Row>, figure: &str, measured: String, budget: String, pass: bool) {
    println!(
        "  -> {figure}: {measured} (budget {budget}) {}",
        if pass { "PASS" } else { "FAIL" }
    );
    rows.push(Row {
        figure: figure.into(),
        measured,
        budget,
        pass,
    });
}

/// A simulator world with one pipeline whose run takes `duration` and has `steps` steps.
pub(crate) fn world(duration: Duration, steps: usize) -> SimConfig {
    SimConfig::new().project(Project::new("p-bench", "Bench").environment(
        Environment::new("prod").pipeline(PublishedPipeline::new(
            "load",
            RunScript::new(duration, steps),
        )),
    ))
}

/// The inputs a CI job would give for `sim`, plus `extra`.
pub(crate) fn inputs(sim: &SimHandle, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let c = sim.config();
    let mut env: HashMap<String, String> = [
        ("MATILLION_API_URL", sim.base_url()),
        ("MATILLION_TOKEN_URL", sim.token_url()),
        ("MATILLION_CLIENT_ID", c.client_id.clone()),
        ("MATILLION_CLIENT_SECRET", c.client_secret.clone()),
        ("MATILLION_PROJECT", "Bench".into()),
        ("MATILLION_ENVIRONMENT", "prod".into()),
        ("MATILLION_PIPELINE", "load".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

/// A scratch directory, removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(tag: &str) -> Res<Self> {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "pipeline-run-bench-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        Ok(Scratch(p))
    }
    pub(crate) fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real-clock simulator.
pub(crate) fn real_sim(cfg: SimConfig) -> Res<SimHandle> {
    Simulator::start(cfg, Arc::new(WallTime))
        .map_err(|e| format!("cannot start the simulator: {e}"))
}

/// A GitHub Actions job's environment with every report turned on, fast polling.
pub(crate) fn github_job(sim: &SimHandle, dir: &Scratch) -> HashMap<String, String> {
    inputs(
        sim,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &dir.path("summary.md")),
            ("GITHUB_OUTPUT", &dir.path("output")),
            ("GITHUB_STATE", &dir.path("state")),
            ("MATILLION_JUNIT_FILE", &dir.path("junit.xml")),
            ("MATILLION_RESULT_FILE", &dir.path("result.json")),
            ("MATILLION_DOTENV_FILE", &dir.path("run.env")),
            ("MATILLION_POLL_INTERVAL", "20ms"),
            ("MATILLION_MAX_POLL_INTERVAL", "20ms"),
            ("MATILLION_TIMEOUT", "2m"),
        ],
    )
}

/// `/usr/bin/time` (GNU) when it works here: it reports the child's exact peak RSS.
pub(crate) fn gnu_time() -> Option<&'static str> {
    let t = "/usr/bin/time";
    let ok = Command::new(t)
        .args(["-f", "%M", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(t)
}

/// What a finished child run gave.
pub(crate) struct Finished {
    pub(crate) code: i32,
    /// When `wait` returned.
    pub(crate) exited: Instant,
    /// Peak resident set, KiB.
    pub(crate) peak_kib: u64,
    /// User + system CPU time (with GNU time only).
    pub(crate) cpu: Option<Duration>,
    /// How the peak was measured.
    pub(crate) peak_how: &'static str,
}

/// `cmd` with exactly `env` (plus PATH, loopback left out of any proxy), no stdin or
/// stdout, and its stderr in `dir`'s file `stderr`.
pub(crate) fn quiet<'c>(
    cmd: &'c mut Command,
    env: &HashMap<String, String>,
    dir: &Scratch,
) -> &'c mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(dir.path("stderr"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
}

/// Run `bin` with exactly `env` (plus PATH), measuring its peak memory.
pub(crate) fn run_measured(
    bin: &Path,
    env: &HashMap<String, String>,
    dir: &Scratch,
) -> Res<Finished> {
    let time = gnu_time();
    let rss_file = dir.path("maxrss");
    let mut cmd = match time {
        Some(t) => {
            let mut c = Command::new(t);
            c.args(["-f", "%M %U %S", "-o", &rss_file]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    quiet(&mut cmd, env, dir);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    // Without GNU time, sample the high-water mark while it runs (a lower bound: a peak in
    // the last moments before exit can be missed).
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let sampled = Arc::new(AtomicU64::new(0));
    let sampler = (time.is_none()).then(|| {
        let (stop, sampled) = (stop.clone(), sampled.clone());
        std::thread::spawn(move || {
            let path = format!("/proc/{pid}/status");
            while !stop.load(Ordering::SeqCst) {
                if let Some(kib) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| status_kib(&s, "VmHWM:"))
                {
                    sampled.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    });
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    let exited = Instant::now();
    stop.store(true, Ordering::SeqCst);
    if let Some(s) = sampler {
        let _ = s.join();
    }
    let (peak_kib, cpu, peak_how) = match time {
        Some(_) => {
            // The last line is "maxrss-KiB user-s system-s" (earlier ones would be a
            // note that the child was signalled).
            let text = std::fs::read_to_string(&rss_file).unwrap_or_default();
            let fields: Vec<&str> = text
                .trim()
                .lines()
                .last()
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            let kib = fields
                .first()
                .and_then(|k| k.parse().ok())
                .ok_or("GNU time wrote no peak RSS")?;
            let cpu = fields
                .get(1..3)
                .and_then(|f| Some(f[0].parse::<f64>().ok()? + f[1].parse::<f64>().ok()?))
                .map(Duration::from_secs_f64);
            (kib, cpu, "GNU time")
        }
        None => (sampled.load(Ordering::SeqCst), None, "sampled VmHWM"),
    };
    Ok(Finished {
        code: status.code().unwrap_or(-1),
        exited,
        peak_kib,
        cpu,
        peak_how,
    })
}

pub(crate) fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

pub(crate) fn stderr_tail(dir: &Scratch) -> String {
    let s = std::fs::read_to_string(dir.path("stderr")).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// KiB → MB (10^6 bytes, as the budgets are stated).
pub(crate) fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}
