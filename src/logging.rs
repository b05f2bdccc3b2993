//! The log: env_logger on stderr, default `info`. `RUST_LOG` (or `RUNNER_DEBUG=1` on GitHub)
//! sets this program's level only: other crates (the HTTP and TLS stacks, which could print
//! headers) stay at `warn` whatever `RUST_LOG` says, so no secret reaches a debug log.
//! Every line starts with `pipeline-run:` and is one line, so remote text can never start
//! a workflow command.

use crate::ci::CiKind;
use log::LevelFilter;
use std::io::Write;

/// The level `RUST_LOG` asks for this program: a bare level (`debug`) or a directive for
/// `pipeline_run`; anything else keeps `info`.
pub fn level_from(rust_log: Option<&str>, runner_debug: bool) -> LevelFilter {
    let mut level = if runner_debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    };
    if let Some(spec) = rust_log {
        for d in spec.split(',').map(str::trim) {
            let (target, lvl) = match d.split_once('=') {
                Some((t, l)) => (Some(t.trim()), l.trim()),
                None => (None, d),
            };
            if target.is_some_and(|t| t != "pipeline_run" && !t.starts_with("pipeline_run::")) {
                continue;
            }
            if let Ok(l) = lvl.parse::<LevelFilter>() {
                level = l;
            }
        }
    }
    level
}

/// Install the logger (once; later calls do nothing).
pub fn init(env: &dyn Fn(&str) -> Option<String>, ci: CiKind) {
    let runner_debug = ci == CiKind::GitHub && env("RUNNER_DEBUG").as_deref() == Some("1");
    let level = level_from(env("RUST_LOG").as_deref(), runner_debug);
    let _ = env_logger::Builder::new()
        .filter_level(LevelFilter::Warn)
        .filter_module("pipeline_run", level)
        .target(env_logger::Target::Stderr)
        .write_style(env_logger::WriteStyle::Never)
        .format(|buf, record| {
            let prefix = match record.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                log::Level::Info => "",
                log::Level::Debug | log::Level::Trace => "debug: ",
            };
            let msg = crate::http::clean(&record.args().to_string());
            writeln!(buf, "pipeline-run: {prefix}{msg}")
        })
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_programs_level_follows_rust_log() {
        assert_eq!(level_from(None, false), LevelFilter::Info);
        assert_eq!(level_from(None, true), LevelFilter::Debug);
        assert_eq!(level_from(Some("trace"), false), LevelFilter::Trace);
        assert_eq!(level_from(Some("ureq=trace"), false), LevelFilter::Info);
        assert_eq!(
            level_from(Some("ureq=trace,pipeline_run=debug"), false),
            LevelFilter::Debug
        );
        assert_eq!(level_from(Some("nonsense"), false), LevelFilter::Info);
    }
}
