//! The custom TLS trust store, [`CaBundle`]: a PEM file named by `ca-bundle` or
//! `SSL_CERT_FILE`, read and checked only when a TLS connection first needs it, its
//! failure then reported as the `ca-bundle` input's error.

use super::InputError;
use super::reader::show;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// A custom set of root certificates: a PEM file named by `ca-bundle` or `SSL_CERT_FILE`,
/// read and parsed only when a TLS connection first needs it ([`CaBundle::certs`]), not
/// while the inputs are checked: a bad input exits before it is read, and a run that
/// makes no TLS connection never reads it. Clones share what was read.
#[derive(Debug, Clone)]
pub(crate) struct CaBundle {
    /// Where the certificates are.
    pub(crate) path: PathBuf,
    /// Where the path came from: "input 'ca-bundle'" or "SSL_CERT_FILE".
    pub(crate) from: String,
    loaded: Arc<OnceLock<Result<Vec<Vec<u8>>, String>>>,
}

impl CaBundle {
    /// The bundle at `path` (named by `from`), not read yet.
    pub(crate) fn new(path: impl Into<PathBuf>, from: &str) -> Self {
        Self {
            path: path.into(),
            from: from.into(),
            loaded: Arc::default(),
        }
    }

    /// The certificates (DER), read and parsed on the first call; later calls give the
    /// same answer. `Err`: why the file cannot be used, as the `ca-bundle` input error
    /// says it.
    pub(crate) fn certs(&self) -> Result<&[Vec<u8>], &str> {
        self.loaded
            .get_or_init(|| {
                std::fs::read(&self.path)
                    .map_err(|e| format!("cannot read it ({e})"))
                    .and_then(|pem| crate::http::read_pem_certs(&pem))
                    .map_err(|e| {
                        format!(
                            "got {} (from {}); {e}. Expected a PEM file of root certificates.",
                            show(&self.path.to_string_lossy()),
                            self.from
                        )
                    })
            })
            .as_ref()
            .map(Vec::as_slice)
            .map_err(String::as_str)
    }

    /// Whether the file has been read yet.
    #[cfg(test)]
    pub(crate) fn is_read(&self) -> bool {
        self.loaded.get().is_some()
    }

    /// The input error, if the file was needed and could not be used.
    pub(crate) fn failure(&self) -> Option<InputError> {
        match self.loaded.get()? {
            Err(message) => Some(InputError {
                input: "ca-bundle",
                message: message.clone(),
            }),
            Ok(_) => None,
        }
    }
}
