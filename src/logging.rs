//! The log: env_logger on stderr, default `info`. `RUST_LOG` (or `RUNNER_DEBUG=1` on GitHub)
//! sets this program's level only: other crates (the HTTP and TLS stacks, which could print
//! headers) stay at `warn` whatever `RUST_LOG` says, so no secret reaches a debug log.
//! Every line starts with `pipeline-run:` and is one line, so remote text can never start
//! a workflow command. Outside GitHub Actions and GitLab CI (which stamp every line
//! themselves), each line begins with the time, RFC 3339 in UTC, for a log read the next
//! morning; the `log-timestamps` input turns that off (or on in CI).

use crate::ci::CiKind;
use log::LevelFilter;
use std::io::Write;

/// The level `RUST_LOG` asks for this program: a bare level (`debug`) or a directive for
/// `pipeline_run`; anything else keeps `info`.
pub(crate) fn level_from(rust_log: Option<&str>, runner_debug: bool) -> LevelFilter {
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

/// Whether lines start with the time: the `log-timestamps` input, else outside GitHub and
/// GitLab only. A value that is not a boolean is reported with the other inputs; meanwhile
/// it counts as not given.
pub(crate) fn timestamps(env: &dyn Fn(&str) -> Option<String>, ci: CiKind) -> bool {
    let given = crate::inputs::find("log-timestamps")
        .and_then(|i| crate::inputs::read(i, env))
        .map(|g| g.value.to_ascii_lowercase());
    match given.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => ci == CiKind::Plain,
    }
}

/// One log line (without its line break): `stamp` is the time, when lines carry it.
pub(crate) fn line(stamp: Option<&str>, level: log::Level, msg: &str) -> String {
    let prefix = match level {
        log::Level::Error => "error: ",
        log::Level::Warn => "warning: ",
        log::Level::Info => "",
        log::Level::Debug | log::Level::Trace => "debug: ",
    };
    let msg = crate::text::clean(msg);
    match stamp {
        Some(t) => format!("{t} pipeline-run: {prefix}{msg}"),
        None => format!("pipeline-run: {prefix}{msg}"),
    }
}

thread_local! {
    /// The pipeline this thread works for, when several run side by side.
    static CONTEXT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Characters of a pipeline's name shown in front of its lines.
const CONTEXT_CHARS: usize = 60;

/// From now on, lines logged by this thread start with `[name] ` (a pipeline run beside
/// others, so that its lines can be told apart); `None` stops that.
pub(crate) fn set_context(name: Option<&str>) {
    let name = name.map(|n| n.chars().take(CONTEXT_CHARS).collect::<String>());
    CONTEXT.with(|c| *c.borrow_mut() = name);
}

/// `msg` with this thread's context in front, if it has one.
fn in_context(msg: String) -> String {
    CONTEXT.with(|c| match &*c.borrow() {
        Some(name) => format!("[{name}] {msg}"),
        None => msg,
    })
}

/// Install the logger (once; later calls do nothing).
pub(crate) fn init(env: &dyn Fn(&str) -> Option<String>, ci: CiKind) {
    let runner_debug = ci == CiKind::GitHub && env("RUNNER_DEBUG").as_deref() == Some("1");
    let level = level_from(env("RUST_LOG").as_deref(), runner_debug);
    let stamped = timestamps(env, ci);
    let _ = env_logger::Builder::new()
        .filter_level(LevelFilter::Warn)
        .filter_module("pipeline_run", level)
        .target(env_logger::Target::Stderr)
        .write_style(env_logger::WriteStyle::Never)
        .format(move |buf, record| {
            let stamp = stamped.then(|| {
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
            });
            let msg = in_context(record.args().to_string());
            writeln!(buf, "{}", line(stamp.as_deref(), record.level(), &msg))
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

    #[test]
    fn lines_are_stamped_outside_ci_unless_turned_off() {
        let none = crate::testing::env(&[]);
        assert!(timestamps(&none, CiKind::Plain));
        assert!(!timestamps(&none, CiKind::GitHub));
        assert!(!timestamps(&none, CiKind::GitLab));
        let off = crate::testing::env(&[("MATILLION_LOG_TIMESTAMPS", "False")]);
        assert!(!timestamps(&off, CiKind::Plain));
        let on = crate::testing::env(&[("INPUT_LOG-TIMESTAMPS", "true")]);
        assert!(timestamps(&on, CiKind::GitLab));
        let bad = crate::testing::env(&[("MATILLION_LOG_TIMESTAMPS", "off")]);
        assert!(timestamps(&bad, CiKind::Plain));
        assert_eq!(
            line(
                Some("2026-11-22T02:15:00Z"),
                log::Level::Warn,
                "slow\nreply"
            ),
            "2026-11-22T02:15:00Z pipeline-run: warning: slow reply"
        );
        assert_eq!(
            line(None, log::Level::Info, "status: RUNNING"),
            "pipeline-run: status: RUNNING"
        );
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        assert_eq!(now.len(), "2026-11-22T02:15:00Z".len());
        assert!(now.ends_with('Z'));
    }
}
