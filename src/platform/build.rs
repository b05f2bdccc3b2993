//! The platform clients, built from the validated config with the program's [`Timings`]:
//! one pipeline's ([`client`]), and several pipelines' sharing one connection pool, one
//! request budget, one token, one lookup of the project and one look at each
//! environment's past runs ([`clients`]).

use crate::auth::BearerAuth;
use crate::ci::CiKind;
use crate::config::{Config, MatillionAuth, MatillionConfig, PlatformConfig};
use crate::http::{Http, Limit};
use crate::platform::Platform;
use crate::platform::datalab::Datalab;
use crate::platform::matillion::{HistoryBook, Matillion};
use crate::timings::Timings;
use std::sync::Arc;

/// The platform client for `cfg`, its requests retried as `timings` says.
pub fn client(cfg: &Config, http: Http, timings: &Timings, ci: CiKind) -> Arc<dyn Platform> {
    let http = configured(cfg, http, timings);
    match &cfg.platform {
        PlatformConfig::Matillion(m) => Arc::new(
            Matillion::new(m.clone(), http, bearer(m, ci))
                .with_not_found_grace(timings.not_found_grace),
        ),
        PlatformConfig::Datalab(d) => Arc::new(Datalab::new(d.clone(), http)),
    }
}

/// The Matillion client of `cfg` itself (not shared), for the artifact requests of `publish` and
/// `promote` (`None` for another platform).
pub(crate) fn matillion_client(
    cfg: &Config,
    http: Http,
    timings: &Timings,
    ci: CiKind,
) -> Option<Matillion> {
    match &cfg.platform {
        PlatformConfig::Matillion(m) => Some(Matillion::new(
            m.clone(),
            configured(cfg, http, timings),
            bearer(m, ci),
        )),
        PlatformConfig::Datalab(_) => None,
    }
}

/// The clients of the pipelines `runs` (from [`Config::runs`]): one connection pool and
/// one request budget (clones of `http`), one token, one lookup of the project, and one
/// look at each environment's past runs, shared by all.
pub(crate) fn clients(
    runs: &[Config],
    http: Http,
    timings: &Timings,
    ci: CiKind,
) -> Vec<Arc<dyn Platform>> {
    clients_sharing(runs, http, timings, ci, true)
}

/// [`clients`], the look at past runs shared only when `share_history` (else each
/// pipeline reads its own, as it does alone: the benchmark's side-by-side comparison).
pub(crate) fn clients_sharing(
    runs: &[Config],
    http: Http,
    timings: &Timings,
    ci: CiKind,
    share_history: bool,
) -> Vec<Arc<dyn Platform>> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let http = configured(first, http, timings);
    let auth = match &first.platform {
        PlatformConfig::Matillion(m) => Some(bearer(m, ci)),
        PlatformConfig::Datalab(_) => None,
    };
    let mut first_client: Option<Arc<Matillion>> = None;
    // One look at each environment's past runs serves every pipeline (one pipeline alone
    // keeps its own request).
    let book = (share_history && runs.len() > 1).then(|| Arc::new(HistoryBook::default()));
    let mut out: Vec<Arc<dyn Platform>> = Vec::with_capacity(runs.len());
    for cfg in runs {
        match (&cfg.platform, &auth) {
            (PlatformConfig::Matillion(m), Some(auth)) => {
                let mut client = Matillion::new(m.clone(), http.clone(), auth.clone())
                    .with_not_found_grace(timings.not_found_grace);
                if let Some(book) = &book {
                    client = client.sharing_history(book.clone());
                }
                let client = Arc::new(match &first_client {
                    Some(f) => client.sharing_project_with(f),
                    None => client,
                });
                first_client.get_or_insert_with(|| client.clone());
                out.push(client);
            }
            _ => out.push(client(cfg, http.clone(), timings, ci)),
        }
    }
    out
}

/// The OAuth or fixed-token authorizer of a Matillion config (on GitHub, every token
/// fetched is masked first).
fn bearer(m: &MatillionConfig, ci: CiKind) -> BearerAuth {
    match &m.auth {
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
        .with_hook(Arc::new(move |t| crate::ci::mask(ci, t.expose()))),
    }
}

/// `http` with the retry timings, the request budget and the CA bundle of `cfg`.
fn configured(cfg: &Config, mut http: Http, timings: &Timings) -> Http {
    http.retry_initial = timings.retry_initial;
    http.retry_max = timings.retry_max;
    http.connect_window = timings.connect_window;
    http.limit_rate(Limit {
        per_minute: cfg.rate_limit,
        floor: timings.rate_floor,
        recovery: timings.rate_recovery,
        platform: match cfg.platform {
            PlatformConfig::Matillion(_) => "Matillion",
            PlatformConfig::Datalab(_) => "Datalab",
        },
    });
    match &cfg.ca_bundle {
        // Read when the first TLS connection needs it; a file that cannot be used is then
        // an input error (`unusable_ca_bundle`).
        Some(b) => {
            let bundle = b.clone();
            http.with_lazy_roots(move || {
                let certs = bundle.certs().map_err(str::to_string)?;
                log::info!(
                    "trusting the {} root certificate(s) in {} instead of the bundled ones",
                    certs.len(),
                    bundle.path.display()
                );
                Ok(certs.to_vec())
            })
        }
        None => http,
    }
}

#[cfg(test)]
mod tests {
    //! The CA bundle is read when a TLS connection first needs it, not when the inputs are
    //! checked; a file that cannot be used is then the same input error as ever.
    use super::*;
    use crate::clock::{Clock, SimClock};
    use crate::config::{CaBundle, from_lookup};
    use crate::http::{Budget, HttpError, NoAuth, Request};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn scratch(name: &str) -> std::path::PathBuf {
        let p =
            std::env::temp_dir().join(format!("pipeline-run-build-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn the_inputs_are_checked_without_reading_the_bundle() {
        let missing = scratch("not-there.pem");
        let env = |k: &str| match k {
            "SSL_CERT_FILE" => Some(missing.display().to_string()),
            "MATILLION_ACCESS_TOKEN" => Some("t".into()),
            "MATILLION_PROJECT" => Some("p".into()),
            "MATILLION_ENVIRONMENT" => Some("e".into()),
            "MATILLION_PIPELINE" => Some("x".into()),
            "MATILLION_REGION" => Some("eu1".into()),
            _ => None,
        };
        let cfg = from_lookup(&env).expect("valid inputs");
        let bundle = cfg.ca_bundle.as_ref().expect("named");
        assert_eq!(bundle.from, "SSL_CERT_FILE");
        assert!(!bundle.is_read());
        assert!(bundle.failure().is_none());
        // Written after the check: what is read is the file as it is when first needed.
        let pem = include_bytes!("../../tests/fixtures/tls/ca.pem");
        std::fs::write(&missing, pem).expect("write");
        assert_eq!(bundle.certs().map(<[_]>::len), Ok(1));
        let _ = std::fs::remove_file(&missing);
        // Read once: clones share the answer, the file is gone now.
        assert_eq!(
            cfg.clone().ca_bundle.unwrap().certs().map(<[_]>::len),
            Ok(1)
        );
    }

    #[test]
    fn an_unusable_bundle_is_the_input_error_it_always_was() {
        let path = scratch("hello.pem");
        std::fs::write(&path, "hello").expect("write");
        let bundle = CaBundle::new(&path, "input 'ca-bundle'");
        let want = format!(
            "got '{}' (from input 'ca-bundle'); it holds no PEM certificate (-----BEGIN CERTIFICATE-----). Expected a PEM file of root certificates.",
            path.display()
        );
        assert_eq!(bundle.certs(), Err(want.as_str()));
        let _ = std::fs::remove_file(&path);
        let e = bundle.failure().expect("failed");
        assert_eq!((e.input, e.message), ("ca-bundle", want));
    }

    #[test]
    fn only_a_tls_request_loads_the_roots_once_and_a_failure_is_not_retried() {
        let loads = Arc::new(AtomicUsize::new(0));
        let counted = loads.clone();
        let clock = SimClock::new();
        let http = Http::new(clock.clone()).with_lazy_roots(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            Err("no roots here".into())
        });
        let budget = Budget::until(clock.now() + Duration::from_secs(60));
        // Plain HTTP (nothing listens on port 9): no TLS, the roots are not needed.
        let plain = http.send(
            &Request::get("http://127.0.0.1:9/x", "the probe"),
            &NoAuth,
            budget,
        );
        assert!(matches!(plain, Err(HttpError::Deadline(_))), "{plain:?}");
        assert_eq!(loads.load(Ordering::SeqCst), 0);
        // TLS: loaded, refused at once with its message, and never loaded again.
        for _ in 0..2 {
            let tls = http.clone().send(
                &Request::get("https://127.0.0.1:9/x", "the probe"),
                &NoAuth,
                budget,
            );
            assert_eq!(
                tls.err(),
                Some(HttpError::Untrusted("no roots here".into()))
            );
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
