//! Proxies from the environment, read as curl, Go and Python read them: the first of
//! `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` (or their lower-case forms) that is set and
//! valid is the proxy; `NO_PROXY` (or `no_proxy`) is a comma-separated list whose entries
//! are trimmed (`"localhost, 127.0.0.1"` is two entries), matched without regard to case,
//! and match the host itself and its subdomains (`example.com`, `.example.com` and
//! `*.example.com` all match `api.example.com`); `*` matches every host.

/// The proxy settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyEnv {
    /// The proxy URL, if one is set.
    pub(crate) proxy: Option<String>,
    /// `NO_PROXY`, parsed.
    pub(crate) no_proxy: NoProxy,
}

/// The parsed `NO_PROXY` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NoProxy {
    all: bool,
    /// Lower-case domains (or addresses), without a leading `*.` or `.`.
    domains: Vec<String>,
}

impl NoProxy {
    /// Parse a `NO_PROXY` value.
    pub(crate) fn parse(v: &str) -> Self {
        let mut np = NoProxy::default();
        for e in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if e == "*" {
                np.all = true;
                continue;
            }
            let e = e.trim_start_matches("*.").trim_start_matches('.');
            let e = e.trim_start_matches('[').trim_end_matches(']');
            if !e.is_empty() {
                np.domains.push(e.to_ascii_lowercase());
            }
        }
        np
    }

    /// Whether requests to `host` go direct.
    pub(crate) fn bypass(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        self.domains.iter().any(|d| {
            host == *d
                || (host.len() > d.len()
                    && host.ends_with(d.as_str())
                    && host.as_bytes()[host.len() - d.len() - 1] == b'.')
        })
    }
}

impl ProxyEnv {
    /// Read the settings through `lookup` (the process environment in production).
    pub(crate) fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let proxy = [
            "ALL_PROXY",
            "all_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
        ]
        .iter()
        .filter_map(|k| lookup(k))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty() && ureq::Proxy::new(v).is_ok());
        let no_proxy = ["NO_PROXY", "no_proxy"]
            .iter()
            .find_map(|k| lookup(k))
            .map(|v| NoProxy::parse(&v))
            .unwrap_or_default();
        Self { proxy, no_proxy }
    }

    /// The host of a URL (`scheme://[user@]host[:port]/...`), lower-cased.
    pub(crate) fn host_of(url: &str) -> &str {
        let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or(authority);
        if let Some(v6) = authority.strip_prefix('[') {
            return v6.split(']').next().unwrap_or("");
        }
        authority.split(':').next().unwrap_or("")
    }

    /// Whether a request to `url` goes through the proxy.
    pub(crate) fn proxied(&self, url: &str) -> bool {
        self.proxy.is_some() && !self.no_proxy.bypass(Self::host_of(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_trimmed_and_match_subdomains() {
        let np = NoProxy::parse("localhost, 127.0.0.1 ,.internal.example, *.corp.test,[::1],");
        assert!(np.bypass("localhost"));
        assert!(np.bypass("127.0.0.1"));
        assert!(np.bypass("LOCALHOST"));
        assert!(np.bypass("api.internal.example"));
        assert!(np.bypass("internal.example"));
        assert!(np.bypass("x.corp.test"));
        assert!(np.bypass("::1"));
        assert!(!np.bypass("notlocalhost"));
        assert!(!np.bypass("api.matillion.com"));
        assert!(NoProxy::parse(" * ").bypass("anything"));
    }

    #[test]
    fn the_first_proxy_set_is_used_and_no_proxy_decides() {
        let env = |k: &str| match k {
            "HTTPS_PROXY" => Some("http://proxy.corp:3128".to_string()),
            "HTTP_PROXY" => Some("http://other:1".to_string()),
            "NO_PROXY" => Some("localhost, 127.0.0.1".to_string()),
            _ => None,
        };
        let p = ProxyEnv::from_lookup(&env);
        assert_eq!(p.proxy.as_deref(), Some("http://proxy.corp:3128"));
        assert!(!p.proxied("http://127.0.0.1:8080/dpc"));
        assert!(!p.proxied("http://user@localhost/x"));
        assert!(p.proxied("https://eu1.api.matillion.com/dpc"));
        assert_eq!(ProxyEnv::host_of("http://[::1]:80/x"), "::1");
    }
}
