//! Wiring shared by every mode (`run`, `cancel`, the post step): the process environment,
//! the validated config, and the platform client built from it with the program's
//! [`Timings`]. Below `cli`, `supervise`, `cancel` and `post`, which all take it from here.

use crate::auth::BearerAuth;
use crate::ci::CiKind;
use crate::config::{self, Config, MatillionAuth, PlatformConfig};
use crate::emit;
use crate::exit::Exit;
use crate::http::Http;
use crate::platform::Platform;
use crate::platform::datalab::Datalab;
use crate::platform::matillion::Matillion;
use crate::timings::Timings;
use std::sync::Arc;

/// The process environment as a lookup function.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Read and validate the inputs; print every problem (exit 2) when they are bad.
pub fn load_config(env: &dyn Fn(&str) -> Option<String>, ci: CiKind) -> Result<Config, Exit> {
    crate::unknown::log_warnings(env);
    config::from_lookup(env).map_err(|errs| {
        for e in &errs.0 {
            log::error!("input '{}': {}", e.input, e.message);
        }
        emit::input_errors(ci, &errs);
        log::error!("nothing was triggered: fix the input(s) above.");
        Exit::BadInput
    })
}

/// Build the platform client for `cfg`, its requests retried as `timings` says.
pub fn platform_for(
    cfg: &Config,
    mut http: Http,
    timings: &Timings,
    ci: CiKind,
) -> Arc<dyn Platform> {
    http.retry_initial = timings.retry_initial;
    http.retry_max = timings.retry_max;
    http.connect_window = timings.connect_window;
    let http = match &cfg.ca_bundle {
        Some(b) => {
            log::info!(
                "trusting the {} root certificate(s) in {} instead of the bundled ones",
                b.certs.len(),
                b.path.display()
            );
            http.with_root_certs(&b.certs)
        }
        None => http,
    };
    match &cfg.platform {
        PlatformConfig::Matillion(m) => {
            let auth = match &m.auth {
                MatillionAuth::Token(t) => BearerAuth::token(t.clone()),
                MatillionAuth::ClientCredentials {
                    client_id,
                    client_secret,
                    token_url,
                } => BearerAuth::client_credentials(
                    client_id.clone(),
                    client_secret.clone(),
                    token_url.clone(),
                )
                .with_hook(emit::mask_hook(ci)),
            };
            Arc::new(
                Matillion::new(m.clone(), http, auth).with_not_found_grace(timings.not_found_grace),
            )
        }
        PlatformConfig::Datalab(d) => Arc::new(Datalab::new(d.clone(), http)),
    }
}
