//! The performance budgets, measured against the bundled simulator and printed as a table
//! with PASS/FAIL per budget (exit 1 when one is missed). Run it with `scripts/bench.sh`
//! (release build first) or `cargo bench --bench budgets`.
//!
//! - Polling cost and detection latency (`polling`) come from runs on simulated time: one
//!   `SimClock` is shared by the simulator and the production code path
//!   (`config::from_lookup` → `platform::build::client` → `worker::run_seeded`), so an
//!   hour-long run takes milliseconds of wall time and every request is a real HTTP request
//!   on loopback; with and without a history of past runs seeded in the simulator. The
//!   policy's own corpus benchmark, with today's backoff and fixed pollers at equal mean
//!   latency, is `cargo bench --bench polling`.
//! - `e2e`: the release binary end to end on the real clock, a handful of ~20 s runs with
//!   and without history at the default intervals, side by side.
//! - Step-list scale (`steps`; `tail`: with 50 ms of server latency per step page),
//!   start-up, peak memory and size are measured on the release binary, run as a child
//!   process against the simulator on the real clock.
//!
//! - `fleet`: 20 pipelines of one minute in one step, on sped-up time (`fleet.rs`).
//! - `rate`: several pipelines within the platform's rate limit, the shared poll side by
//!   side with per-run polling (`rate.rs`).
//!
//! Arguments (after `--`) pick sections: `polling`, `e2e`, `steps`, `tail`, `startup`,
//! `memory`, `size`, `fleet`, `rate` (default: all). `PIPELINE_RUN_BIN` names the binary to measure
//! (default: the one cargo built for this bench).
//!
//! This file runs the sections and prints the table; the sections live beside it:
//! `polling.rs` (`polling`, `e2e`), `steps.rs` (`steps`, `tail`), `footprint.rs`
//! (`startup`, `memory`, `hostile-memory`, `size`), `fleet.rs` (`fleet`), `rate.rs`
//! (`rate`), and `common.rs`
//! holds what they share (the table's rows, the simulator's world and inputs, running the
//! binary as a measured child process).

mod common;
mod fleet;
mod footprint;
mod polling;
mod rate;
#[path = "../../tests/it/sim_time.rs"]
mod sim_time;
mod steps;

use common::{Res, Row};
use std::path::PathBuf;

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let on = |s: &str| wanted.is_empty() || wanted.iter().any(|w| w == s);
    let bin = PathBuf::from(
        std::env::var("PIPELINE_RUN_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pipeline-run").to_string()),
    );
    println!("binary: {}", bin.display());

    let mut rows = Vec::new();
    let mut failed_to_measure = Vec::new();
    let mut section = |name: &str, f: &dyn Fn(&mut Vec<Row>) -> Res<()>| {
        if on(name) {
            println!("\n== {name}");
            if let Err(e) = f(&mut rows) {
                println!("  !! {name}: {e}");
                failed_to_measure.push(format!("{name}: {e}"));
            }
        }
    };
    section("polling", &polling::polling);
    section("e2e", &|rows| polling::e2e(rows, &bin));
    section("steps", &|rows| steps::steps(rows, &bin));
    section("tail", &|rows| steps::tail(rows, &bin));
    section("startup", &|rows| footprint::startup(rows, &bin));
    section("memory", &|rows| footprint::memory(rows, &bin));
    section("hostile-memory", &|rows| {
        footprint::hostile_memory(rows, &bin)
    });
    section("size", &|rows| footprint::size(rows, &bin));
    section("fleet", &|rows| fleet::fleet(rows, &bin));
    section("rate", &|rows| rate::rate(rows, &bin));

    println!("\n| figure | measured | budget | result |\n|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} |",
            r.figure,
            r.measured,
            r.budget,
            if r.pass { "PASS" } else { "FAIL" }
        );
    }
    for e in &failed_to_measure {
        println!("| {e} | not measured | | FAIL |");
    }
    if !failed_to_measure.is_empty() || rows.iter().any(|r| !r.pass) {
        std::process::exit(1);
    }
}
