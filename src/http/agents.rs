//! The `ureq` agents behind [`Http`] and the TLS roots they trust: one agent configuration
//! (no redirects, a connect timeout, keep-alive, rustls), direct and through the proxy,
//! with the bundled roots or with a custom set read when a TLS connection first needs it.

use super::{CONNECT_TIMEOUT, Http, KEEP_ALIVE_PER_HOST, USER_AGENT, proxy};
use std::sync::OnceLock;

/// Root certificates read when a TLS connection first needs them: the agent that trusts
/// them is built then, once, and shared by every clone of the client.
pub(super) struct LazyRoots {
    load: Box<dyn Fn() -> Result<Vec<Vec<u8>>, String> + Send + Sync>,
    agents: OnceLock<Result<Agents, String>>,
}

impl LazyRoots {
    /// Roots that `load` gives, not read yet.
    pub(super) fn new(
        load: impl Fn() -> Result<Vec<Vec<u8>>, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            load: Box::new(load),
            agents: OnceLock::new(),
        }
    }
}

/// The agents of one trust store: direct, and through the proxy when one is set.
#[derive(Clone)]
pub(super) struct Agents {
    direct: ureq::Agent,
    proxied: Option<ureq::Agent>,
}

impl Agents {
    pub(super) fn new(roots: Option<ureq::tls::RootCerts>, proxy: &proxy::ProxyEnv) -> Self {
        Self {
            direct: agent(roots.clone(), None),
            proxied: proxied_agent(proxy, roots),
        }
    }

    /// The agent for `url`: through the proxy unless `NO_PROXY` (or no proxy) says not.
    fn pick(&self, proxy: &proxy::ProxyEnv, url: &str) -> &ureq::Agent {
        match &self.proxied {
            Some(p) if proxy.proxied(url) => p,
            _ => &self.direct,
        }
    }
}

/// Root certificates (DER) as the TLS layer takes them.
fn root_certs(roots: &[Vec<u8>]) -> ureq::tls::RootCerts {
    let certs: Vec<ureq::tls::Certificate<'static>> = roots
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
        .collect();
    ureq::tls::RootCerts::new_with_certs(&certs)
}

impl Http {
    /// The agent for `url`: the ones with the lazy roots for `https://` (built on first
    /// use), direct or through the proxy as `NO_PROXY` says.
    pub(super) fn agent_for(&self, url: &str) -> Result<&ureq::Agent, String> {
        let tls = url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        let agents = match &self.roots {
            Some(lazy) if tls => lazy
                .agents
                .get_or_init(|| {
                    let roots = (lazy.load)()?;
                    Ok(Agents::new(Some(root_certs(&roots)), &self.proxy))
                })
                .as_ref()
                .map_err(String::clone)?,
            _ => &self.agents,
        };
        Ok(agents.pick(&self.proxy, url))
    }
}

/// The one agent configuration: statuses are read, not errors; no redirects (a token must
/// not follow one); a connect timeout; keep-alive; proxies from the environment (ureq's
/// default); rustls with the bundled Mozilla roots unless `roots` says otherwise.
fn agent(roots: Option<ureq::tls::RootCerts>, proxy: Option<ureq::Proxy>) -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(r) = roots {
        tls = tls.root_certs(r);
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .max_redirects(0)
        .max_idle_connections(KEEP_ALIVE_PER_HOST)
        .max_idle_connections_per_host(KEEP_ALIVE_PER_HOST)
        .tls_config(tls.build())
        .proxy(proxy)
        .build()
        .into()
}

/// The agent for proxied requests, when a proxy is set (`NO_PROXY` is decided per
/// request, by [`proxy::ProxyEnv::proxied`]).
fn proxied_agent(p: &proxy::ProxyEnv, roots: Option<ureq::tls::RootCerts>) -> Option<ureq::Agent> {
    let proxy = ureq::Proxy::new(p.proxy.as_deref()?).ok()?;
    Some(agent(roots, Some(proxy)))
}

/// The certificates (DER) in a PEM file; an error names what is wrong.
pub(crate) fn read_pem_certs(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => out.push(c.der().to_vec()),
            Ok(_) => {}
            Err(e) => return Err(format!("it is not valid PEM ({e})")),
        }
    }
    if out.is_empty() {
        return Err("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(out)
}
