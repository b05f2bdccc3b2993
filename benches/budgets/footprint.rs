//! The `startup`, `memory`, `hostile-memory` and `size` sections: what the release binary
//! costs to start, how much memory a normal run and a hostile server's replies make it
//! hold at peak, and how large it is on disk.

use crate::common::{
    Res, Row, Scratch, github_job, mb, real_sim, row, run_measured, stderr_tail, world,
};
use crate::steps::BIG_STEPS;
use pipeline_run_sim::{Environment, Project, PublishedPipeline, Route, RunScript, SimConfig};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Start-up samples.
const STARTUP_RUNS: usize = 201;

pub(crate) fn startup(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let mut times = Vec::with_capacity(STARTUP_RUNS);
    for _ in 0..STARTUP_RUNS {
        let t = Instant::now();
        let status = Command::new(bin)
            .env_clear()
            .env("MATILLION_TIMEOUT", "90")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        times.push(t.elapsed());
        if status.code() != Some(2) {
            return Err(format!("expected exit 2, got {status}"));
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "  {STARTUP_RUNS} runs with MATILLION_TIMEOUT=90 (bad input): min {:.2} ms, median {:.2} ms, p90 {:.2} ms",
        times[0].as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        times[times.len() * 9 / 10].as_secs_f64() * 1e3
    );
    row(
        rows,
        "start-up: spawn → exit 2 on a bad input (median)",
        format!("{:.2} ms", median.as_secs_f64() * 1e3),
        "< 5 ms".into(),
        median < Duration::from_millis(5),
    );
    Ok(())
}

pub(crate) fn memory(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let run = Duration::from_millis(300);
    let sim = real_sim(world(run, 12))?;
    let dir = Scratch::new("normal")?;
    let env = github_job(&sim, &dir);
    let f = run_measured(bin, &env, &dir)?;
    if f.code != 0 {
        return Err(format!("exit {}:\n{}", f.code, stderr_tail(&dir)));
    }
    let tail = sim
        .requests_to(Route::Status)
        .last()
        .map(|r| f.exited.saturating_duration_since(r.at))
        .unwrap_or_default();
    println!(
        "  12 steps, every report on: peak RSS {:.1} MB ({}); last status poll → exit {:.1} ms",
        mb(f.peak_kib),
        f.peak_how,
        tail.as_secs_f64() * 1e3
    );
    row(
        rows,
        "normal run: last status poll → exit, release binary (all reports)",
        format!("{:.1} ms", tail.as_secs_f64() * 1e3),
        "≤ 1 s (the + 1 s of the latency budget)".into(),
        tail <= Duration::from_secs(1),
    );
    row(
        rows,
        "peak memory, normal run (12 steps, all reports)",
        format!("{:.1} MB", mb(f.peak_kib)),
        "< 15 MB".into(),
        f.peak_kib * 1024 < 15_000_000,
    );
    Ok(())
}

/// Peak memory whatever a server sends: 30,000 steps whose messages make the list far
/// larger than what is read (2 KB each: 60 MB, cut at the list cap), or make every page
/// larger than a reply is read (150 KB each: 15 MB pages).
pub(crate) fn hostile_memory(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    for message_bytes in [2_000, 150_000] {
        let run = Duration::from_millis(300);
        let message = "x".repeat(message_bytes);
        let mut script = RunScript::new(run, BIG_STEPS);
        for i in 0..BIG_STEPS {
            script = script.step_message(i, &message);
        }
        let sim = real_sim(SimConfig::new().project(
            Project::new("p-bench", "Bench").environment(
                Environment::new("prod").pipeline(PublishedPipeline::new("load", script)),
            ),
        ))?;
        let dir = Scratch::new("hostile")?;
        let env = github_job(&sim, &dir);
        let f = run_measured(bin, &env, &dir)?;
        if f.code != 0 {
            return Err(format!("exit {}:\n{}", f.code, stderr_tail(&dir)));
        }
        println!(
            "  30,000 steps with {message_bytes}-byte messages: {} step requests, peak RSS {:.1} MB ({})",
            sim.requests_to(Route::Steps).len(),
            mb(f.peak_kib),
            f.peak_how
        );
        row(
            rows,
            &format!(
                "peak memory, 30,000 steps with {} KB messages",
                message_bytes / 1000
            ),
            format!("{:.1} MB", mb(f.peak_kib)),
            "< 100 MB".into(),
            f.peak_kib * 1024 < 100_000_000,
        );
    }
    Ok(())
}

pub(crate) fn size(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let len = std::fs::metadata(bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    // `strip = true` in the release profile; check that nothing is left to strip.
    let symtab = std::fs::read(bin)
        .map(|b| b.windows(7).any(|w| w == b".symtab"))
        .unwrap_or(false);
    println!(
        "  {} bytes; symbol table {}",
        len,
        if symtab { "present" } else { "stripped" }
    );
    row(
        rows,
        "release binary size",
        format!(
            "{:.2} MB{}",
            len as f64 / 1e6,
            if symtab {
                " (not stripped)"
            } else {
                " (stripped)"
            }
        ),
        "< 5 MB".into(),
        len < 5_000_000,
    );
    Ok(())
}
