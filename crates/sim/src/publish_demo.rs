//! `pipeline-run-sim demo publish`: the CD loop end to end against an in-process
//! simulator, as three CI jobs would run it. A small project directory is written (two
//! pipelines, a SQL script, a README the service ignores, and a `.git` folder that is
//! never sent); then `pipeline-run publish` publishes it to `dev` as the commit's version,
//! `pipeline-run` runs `nightly-load` in `dev` with that version (taken from the first
//! step's outputs, as a workflow wires them), and `pipeline-run promote` promotes it to
//! `prod`. Each step's log shows as it happens, then its outputs.

use super::{PROXY_VARS, exit_code, find_pipeline_run, fresh_temp_dir, terminal_outputs};
use pipeline_run_sim::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PROJECT_NAME, Scenario, SimConfig, SimHandle,
    Simulator, WallTime,
};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// The commit the demo publishes (as `GITHUB_SHA` would name it).
const DEMO_SHA: &str = "4f2a9c1e7b3d5a6f8e0c2b4d6f8a0c2e4b6d8f0a";

const PROJECT_FILES: [(&str, &str); 5] = [
    (
        "nightly-load.orch.yaml",
        "type: \"orchestration\"\nversion: \"1.0\"\npipeline:\n  components:\n    Start:\n      type: \"start\"\n",
    ),
    (
        "staging/join-order-lines.tran.yaml",
        "type: \"transformation\"\nversion: \"1.0\"\n",
    ),
    (
        "sql/orders.sql",
        "select * from orders where day = current_date;\n",
    ),
    ("README.md", "# Demo project\n"),
    (".git/HEAD", "ref: refs/heads/main\n"),
];

/// One step of the loop: `pipeline-run <args>` with the demo's settings and `extra`; its
/// exit code and outputs.
fn step(
    main_bin: &Path,
    sim: &SimHandle,
    dir: &Path,
    title: &str,
    args: &[&str],
    extra: &[(&str, String)],
) -> Result<(u8, String), String> {
    let outputs = dir.join(format!("{}-output.txt", args.first().unwrap_or(&"run")));
    std::fs::write(&outputs, "")
        .map_err(|e| format!("cannot create {}: {e}", outputs.display()))?;
    eprintln!("\n==================== {title} ====================\n");
    let mut cmd = Command::new(main_bin);
    for v in PROXY_VARS.iter().chain(&["SSL_CERT_FILE"]) {
        cmd.env_remove(v);
    }
    cmd.args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("MATILLION_API_URL", sim.base_url())
        .env("MATILLION_TOKEN_URL", sim.token_url())
        .env("MATILLION_CLIENT_ID", DEMO_CLIENT_ID)
        .env("MATILLION_CLIENT_SECRET", DEMO_CLIENT_SECRET)
        .env("MATILLION_PROJECT", DEMO_PROJECT_NAME)
        .env("MATILLION_POLL_INTERVAL", "1s")
        .env("MATILLION_MAX_POLL_INTERVAL", "2s")
        .env("GITHUB_SHA", DEMO_SHA)
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_STEP_SUMMARY", dir.join("step-summary.md"))
        .env("GITHUB_OUTPUT", &outputs);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", main_bin.display()))?;
    let text = std::fs::read_to_string(&outputs).unwrap_or_default();
    println!("\n-- outputs:\n{}", terminal_outputs(&text));
    Ok((exit_code(&status), text))
}

/// The value of output `name` in a `GITHUB_OUTPUT` file.
fn output(text: &str, name: &str) -> Option<String> {
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(delim) = line.strip_prefix(&format!("{name}<<")) {
            return lines.next().filter(|v| *v != delim).map(str::to_string);
        }
    }
    None
}

/// Run the loop; the exit code of the first step that failed, else 0.
pub(crate) fn demo_publish() -> Result<u8, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate myself: {e}"))?;
    let main_bin = find_pipeline_run(&exe)?;
    let sim = Simulator::start(SimConfig::demo(Scenario::Success), Arc::new(WallTime))
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let dir = fresh_temp_dir()?;
    let project = dir.join("project");
    for (name, text) in PROJECT_FILES {
        let path = project.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    eprintln!(
        "== pipeline-run-sim demo publish: simulator at {}, project files in {}",
        sim.base_url(),
        project.display()
    );
    let env = |k: &'static str, v: &str| (k, v.to_string());
    let (code, out) = step(
        &main_bin,
        &sim,
        &dir,
        "1. publish (on merge to main)",
        &["publish"],
        &[
            env("MATILLION_ENVIRONMENT", "dev"),
            env("MATILLION_ARTIFACT_DIR", &project.display().to_string()),
        ],
    )?;
    let version = output(&out, "version").unwrap_or_default();
    if code != 0 || version.is_empty() {
        return Ok(code.max(1));
    }
    let (code, _) = step(
        &main_bin,
        &sim,
        &dir,
        "2. run nightly-load in dev with the new version",
        &["run"],
        &[
            env("MATILLION_ENVIRONMENT", "dev"),
            env("MATILLION_PIPELINE", "nightly-load"),
            env("MATILLION_VERSION", &version),
        ],
    )?;
    if code != 0 {
        return Ok(code);
    }
    let (code, _) = step(
        &main_bin,
        &sim,
        &dir,
        "3. promote it to prod (the run succeeded)",
        &["promote"],
        &[
            env("MATILLION_FROM_ENVIRONMENT", "dev"),
            env("MATILLION_ENVIRONMENT", "prod"),
            env("MATILLION_VERSION", &version),
        ],
    )?;
    println!(
        "\nThe three job summaries (Markdown): {}",
        dir.join("step-summary.md").display()
    );
    println!("== the loop exited with code {code}");
    sim.stop();
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_read_by_name() {
        let text = "version<<D\nabc\nD\nignored-resources<<E\n1\nE\n";
        assert_eq!(output(text, "version").as_deref(), Some("abc"));
        assert_eq!(output(text, "ignored-resources").as_deref(), Some("1"));
        assert_eq!(output(text, "nope"), None);
        assert_eq!(output("version<<D\nD\n", "version"), None);
    }
}
