//! `pipeline-run-sim`: run the bundled Matillion/Datalab simulator on loopback.
//!
//! - `serve [--port N] [--scenario success|failure|slow|hostile] [--start PIPELINE]
//!   [--rate-limit N[/BURST]]` serves the demo world (with its past runs,
//!   `demo_past_runs`) until Ctrl-C; `--start` first starts an execution of a demo
//!   pipeline as its schedule would (for `pipeline-run wait` to follow); `--rate-limit`
//!   enforces a rate limit on the whole API.
//! - `demo [pipeline-name]` starts the simulator in-process (the demo world and its past
//!   runs), runs the sibling
//!   `pipeline-run` binary against it as a CI job would (its log shows as it happens),
//!   then shows the job summary rendered for a terminal (`terminal`, from the JSON result
//!   the binary wrote), the outputs, and where the Markdown summary is.
//! - `demo publish` runs the CD loop: publish a small project to `dev`, run it there with
//!   the new version, promote it to `prod` ([`publish_demo`]).

mod publish_demo;
mod terminal;

use pipeline_run_sim::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_DATALAB_KEY, DEMO_DATALAB_PIPELINE, DEMO_PROJECT_ID,
    DEMO_PROJECT_NAME, RateLimit, Scenario, SimConfig, SimHandle, Simulator, WallTime,
    demo_past_runs,
};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;

const USAGE: &str = "\
pipeline-run-sim: a local simulator of the Matillion DPC API (and a small Datalab API)

USAGE:
    pipeline-run-sim serve [--port N] [--scenario success|failure|slow|hostile] [--start PIPELINE]
                           [--rate-limit N[/BURST]]
    pipeline-run-sim demo [pipeline-name | --datalab]
    pipeline-run-sim demo publish

serve   Serve the demo project until Ctrl-C. --start first starts an execution of that
        pipeline in environment dev, as its schedule would (try `pipeline-run wait`).
        --rate-limit answers 429 (with Retry-After) over N requests a minute on the whole
        API, in bursts of at most BURST (default 5; Matillion's older limit is 60/5).
demo    Run `pipeline-run` against an in-process simulator and show what it wrote.
        Pipelines: nightly-load (default), broken-load, hostile, slow-load, legacy-load.
        --datalab runs the Datalab pipeline pl_demo on a small uploaded document.
        publish: publish a small project to dev, run it there, promote it to prod.";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(rest),
        Some("demo") => demo(rest),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(0)
        }
        None => {
            eprintln!("{USAGE}");
            Ok(2)
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("pipeline-run-sim: {msg}");
            ExitCode::from(2)
        }
    }
}

fn real_clock() -> Arc<WallTime> {
    Arc::new(WallTime)
}

/// What `serve` was asked for.
#[derive(Debug, PartialEq)]
struct ServeOptions {
    port: u16,
    scenario: Scenario,
    /// A pipeline to start at once, as its schedule would.
    start: Option<String>,
    /// A rate limit on the whole API.
    rate_limit: Option<RateLimit>,
}

/// `N` or `N/BURST`: requests a minute and the largest burst (5 when not given), both
/// whole numbers from 1.
fn rate_limit(v: &str) -> Result<RateLimit, String> {
    let (n, burst) = v.split_once('/').unwrap_or((v, "5"));
    match (n.trim().parse::<u32>(), burst.trim().parse::<u32>()) {
        (Ok(per_minute @ 1..), Ok(burst @ 1..)) => Ok(RateLimit { per_minute, burst }),
        _ => Err(format!(
            "invalid --rate-limit {v:?}: expected N or N/BURST, whole numbers from 1 (e.g. 60/5)"
        )),
    }
}

/// Parse `serve` options: `--port N`, `--scenario S`, `--start P`, `--rate-limit N[/B]`
/// (also `--opt=value`).
fn serve_options(args: &[String]) -> Result<ServeOptions, String> {
    let mut port = 0u16;
    let mut scenario = Scenario::Success;
    let mut start = None;
    let mut limit = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name {
            "--port" => {
                let v = value()?;
                port = v.parse().map_err(|_| format!("invalid port {v:?}"))?;
            }
            "--scenario" => scenario = value()?.parse()?,
            "--start" => start = Some(value()?),
            "--rate-limit" => limit = Some(rate_limit(&value()?)?),
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
        }
    }
    Ok(ServeOptions {
        port,
        scenario,
        start,
        rate_limit: limit,
    })
}

fn serve(args: &[String]) -> Result<u8, String> {
    let ServeOptions {
        port,
        scenario,
        start,
        rate_limit,
    } = serve_options(args)?;
    let mut config = SimConfig::demo(scenario).port(port);
    if let Some(RateLimit { per_minute, burst }) = rate_limit {
        config = config.rate_limit(per_minute, burst);
    }
    let sim = Simulator::start(config, real_clock())
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    with_past(&sim);
    print_banner(&sim, scenario);
    if let Some(RateLimit { per_minute, burst }) = rate_limit {
        println!(
            "  rate limit: {per_minute} requests a minute, bursts of {burst} (429 with Retry-After over it)"
        );
        println!();
    }
    if let Some(pipeline) = start {
        let id = sim
            .start_scheduled("dev", &pipeline)
            .ok_or_else(|| format!("no pipeline {pipeline:?} is published to environment dev"))?;
        println!("  started execution {id} of {pipeline} in dev, as its schedule would");
        println!("  follow it: pipeline-run wait --execution-id {id}   (or --pipeline {pipeline})");
        println!();
    }
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| format!("cannot listen for signals: {e}"))?;
    let _ = signals.forever().next();
    eprintln!(
        "\nstopping ({} connections served, {} requests rejected by the rate limit)",
        sim.connections(),
        sim.rejected_requests()
    );
    sim.stop();
    Ok(0)
}

/// The demo world's past runs, seeded before anything runs.
fn with_past(sim: &SimHandle) {
    for past in demo_past_runs(sim.config()) {
        sim.add_running_execution(past);
    }
}

fn print_banner(sim: &SimHandle, scenario: Scenario) {
    println!("pipeline-run-sim serving scenario {scenario:?} (Ctrl-C to stop)");
    println!();
    println!("  MATILLION_API_URL={}", sim.base_url());
    println!("  MATILLION_TOKEN_URL={}", sim.token_url());
    println!("  MATILLION_CLIENT_ID={DEMO_CLIENT_ID}");
    println!("  MATILLION_CLIENT_SECRET={DEMO_CLIENT_SECRET}");
    println!("  MATILLION_PROJECT={DEMO_PROJECT_NAME}   (id {DEMO_PROJECT_ID})");
    println!("  MATILLION_ENVIRONMENT=dev");
    println!("  pipelines: nightly-load, broken-load, hostile, slow-load, legacy-load (disabled)");
    println!();
    println!(
        "  Datalab: {}  X-API-Key: {DEMO_DATALAB_KEY}",
        sim.datalab_url()
    );
    println!("           pipeline {DEMO_DATALAB_PIPELINE}");
}

/// Where the main binary should be: next to this one.
fn find_pipeline_run(this_exe: &Path) -> Result<PathBuf, String> {
    let path = this_exe.with_file_name(format!("pipeline-run{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "cannot find the pipeline-run binary at {}; run `cargo build` first",
            path.display()
        ))
    }
}

/// A fresh, empty temporary directory.
fn fresh_temp_dir() -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir =
        std::env::temp_dir().join(format!("pipeline-run-demo-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

fn demo(args: &[String]) -> Result<u8, String> {
    if args.len() > 1 {
        return Err(format!("demo takes at most one pipeline name\n\n{USAGE}"));
    }
    if args.first().map(String::as_str) == Some("publish") {
        return publish_demo::demo_publish();
    }
    let datalab = args.first().map(String::as_str) == Some("--datalab");
    let pipeline = match args.first().map(String::as_str) {
        Some("--datalab") => DEMO_DATALAB_PIPELINE,
        Some(p) => p,
        None => "nightly-load",
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate myself: {e}"))?;
    let main_bin = find_pipeline_run(&exe)?;

    let sim = Simulator::start(SimConfig::demo(Scenario::Success), real_clock())
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    with_past(&sim);
    let dir = fresh_temp_dir()?;
    let summary = dir.join("step-summary.md");
    let outputs = dir.join("github-output.txt");
    let result = dir.join("result.json");
    for f in [&summary, &outputs] {
        std::fs::write(f, "").map_err(|e| format!("cannot create {}: {e}", f.display()))?;
    }

    // Ctrl-C reaches the child through the terminal; we keep running to show its results.
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]);
    if let Ok(mut signals) = signals {
        std::thread::spawn(move || for _ in signals.forever() {});
    }

    eprintln!(
        "== pipeline-run-sim demo: simulator at {}, running {} for pipeline {pipeline}\n",
        sim.base_url(),
        main_bin.display()
    );
    let mut cmd = Command::new(&main_bin);
    // The simulator is plain HTTP on loopback: no proxy, and no certificate file (a
    // system-wide SSL_CERT_FILE would only make the binary say which roots it trusts).
    for v in PROXY_VARS.iter().chain(&["SSL_CERT_FILE"]) {
        cmd.env_remove(v);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("MATILLION_POLL_INTERVAL", "1s")
        .env("MATILLION_MAX_POLL_INTERVAL", "2s")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &outputs);
    if datalab {
        let doc = dir.join("sample-invoice.pdf");
        std::fs::write(&doc, b"%PDF-1.4\n% a tiny sample document\n")
            .map_err(|e| format!("cannot create {}: {e}", doc.display()))?;
        cmd.env("DATALAB_PLATFORM", "datalab")
            .env("DATALAB_API_URL", sim.datalab_url())
            .env("DATALAB_API_KEY", DEMO_DATALAB_KEY)
            .env("DATALAB_PIPELINE", pipeline)
            .env("DATALAB_FILE", &doc)
            .env("DATALAB_RESULT_DIR", dir.join("results"))
            .env("DATALAB_RESULT_FILE", &result);
    } else {
        cmd.env("MATILLION_API_URL", sim.base_url())
            .env("MATILLION_TOKEN_URL", sim.token_url())
            .env("MATILLION_CLIENT_ID", DEMO_CLIENT_ID)
            .env("MATILLION_CLIENT_SECRET", DEMO_CLIENT_SECRET)
            .env("MATILLION_PROJECT", DEMO_PROJECT_NAME)
            .env("MATILLION_ENVIRONMENT", "dev")
            .env("MATILLION_PIPELINE", pipeline)
            .env("MATILLION_VARIABLES", "run_date=2026-11-22")
            .env("MATILLION_RESULT_FILE", &result);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", main_bin.display()))?;

    println!("\n==================== Job summary ====================\n");
    match std::fs::read_to_string(&result)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    {
        Some(doc) => print!("{}", terminal::render(&doc)),
        None => println!("(no result was written)"),
    }
    println!("\n==================== Outputs ====================\n");
    match std::fs::read_to_string(&outputs) {
        Ok(text) => print!("{}", terminal_outputs(&text)),
        Err(e) => println!("(cannot read: {e})"),
    }
    println!();
    println!(
        "The job summary as GitHub renders it (Markdown): {}",
        summary.display()
    );
    println!(
        "The outputs (GITHUB_OUTPUT):                     {}",
        outputs.display()
    );
    println!(
        "The whole result (JSON):                         {}",
        result.display()
    );
    let code = exit_code(&status);
    println!("\n== pipeline-run exited with code {code}");
    println!("   (files kept in {})", dir.display());
    sim.stop();
    Ok(code)
}

/// The outputs file (`name<<DELIMITER` / value / `DELIMITER`) as `name: value` lines,
/// values on one line, control characters as spaces.
fn terminal_outputs(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some((name, delim)) = line.split_once("<<") else {
            continue;
        };
        let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
        let value = value.join(" ");
        let value: String = value
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        out.push_str(&format!("  {name:<14} {value}\n"));
    }
    if out.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

/// The child's exit code (128 + signal number if it was killed by a signal).
fn exit_code(status: &std::process::ExitStatus) -> u8 {
    if let Some(c) = status.code() {
        return u8::try_from(c).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return u8::try_from(128 + sig).unwrap_or(1);
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_without_main_binary_says_to_build() {
        let err = find_pipeline_run(Path::new("/nonexistent-dir/pipeline-run-sim")).unwrap_err();
        assert!(err.contains("cargo build"), "{err}");
        assert!(err.contains("/nonexistent-dir/pipeline-run"), "{err}");
    }

    #[test]
    fn parses_serve_options() {
        let args = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        assert_eq!(
            serve_options(&args(&["--port", "8080", "--scenario=hostile"])),
            Ok(ServeOptions {
                port: 8080,
                scenario: Scenario::Hostile,
                start: None,
                rate_limit: None,
            })
        );
        assert_eq!(
            serve_options(&args(&["--rate-limit", "60"])).map(|o| o.rate_limit),
            Ok(Some(RateLimit {
                per_minute: 60,
                burst: 5
            }))
        );
        assert_eq!(
            serve_options(&args(&["--rate-limit=1000/20"])).map(|o| o.rate_limit),
            Ok(Some(RateLimit {
                per_minute: 1000,
                burst: 20
            }))
        );
        for bad in ["0", "60/0", "x", "60/", "-1", "1.5"] {
            assert!(
                serve_options(&args(&["--rate-limit", bad])).is_err(),
                "{bad}"
            );
        }
        assert_eq!(
            serve_options(&args(&["--start", "slow-load"])).map(|o| o.start),
            Ok(Some("slow-load".to_string()))
        );
        assert!(serve_options(&args(&["--port"])).is_err());
        assert!(serve_options(&args(&["--port", "x"])).is_err());
        assert!(serve_options(&args(&["--scenario", "weird"])).is_err());
        assert!(serve_options(&args(&["--bogus"])).is_err());
    }

    #[test]
    fn outputs_for_a_terminal() {
        let text = "status<<D\nSUCCESS\nD\nfailed-steps<<D\na\nb\u{1b}[2J\nD\n";
        assert_eq!(
            terminal_outputs(text),
            "  status         SUCCESS\n  failed-steps   a b [2J\n"
        );
    }

    #[test]
    fn demo_rejects_extra_arguments() {
        let args = vec!["a".to_string(), "b".to_string()];
        assert!(demo(&args).is_err());
    }
}
