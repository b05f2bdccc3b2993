//! Reading the inputs as a command does: the warnings about inputs nobody reads, the
//! validated [`Config`], and every problem said (the log, and annotations on GitHub) with
//! exit 2 before anything is sent. The CA bundle is read only when a TLS connection first
//! needs it ([`unusable_ca_bundle`] says it the same way, afterwards).

use super::{Config, InputErrors, Purpose, from_lookup_for};
use crate::ci::CiKind;
use crate::exit::Exit;
use crate::text;

/// The process environment as a lookup function.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Read and validate the inputs; print every problem (exit 2) when they are bad.
pub(crate) fn load(env: &dyn Fn(&str) -> Option<String>, ci: CiKind) -> Result<Config, Exit> {
    load_for(env, ci, Purpose::Run)
}

/// [`load`] for `purpose` (`wait` and `status` read fewer inputs).
pub(crate) fn load_for(
    env: &dyn Fn(&str) -> Option<String>,
    ci: CiKind,
    purpose: Purpose,
) -> Result<Config, Exit> {
    crate::unknown::log_warnings(env);
    from_lookup_for(env, purpose).map_err(|errs| refuse(ci, &errs))
}

/// When the CA bundle was needed and could not be used: the input error, said as
/// [`load`] says one (exit 2; nothing was sent over TLS, and nothing else is reported).
pub(crate) fn unusable_ca_bundle(cfg: &Config, ci: CiKind) -> Option<Exit> {
    let e = cfg.ca_bundle.as_ref()?.failure()?;
    Some(refuse(ci, &InputErrors(vec![e])))
}

/// Say every bad input: a log line each, an annotation each on GitHub (at most 10), and
/// that nothing was triggered; exit 2.
pub(crate) fn refuse(ci: CiKind, errs: &InputErrors) -> Exit {
    for e in &errs.0 {
        log::error!("input '{}': {}", e.input, e.message);
    }
    annotate(ci, errs);
    log::error!("nothing was triggered: fix the input(s) above.");
    Exit::BadInput
}

/// On GitHub, an error annotation for each bad input (at most 10).
pub(crate) fn annotate(ci: CiKind, errs: &InputErrors) {
    if ci != CiKind::GitHub {
        return;
    }
    for e in errs.0.iter().take(10) {
        crate::ci::print(&format!(
            "::error title={}::{}",
            text::escape_property(&format!("Invalid input '{}'", e.input)),
            text::escape_data(&e.message)
        ));
    }
}
