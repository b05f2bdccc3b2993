//! What a request is (method, URL, query, body, whether it may be sent twice) and what a
//! response is, independent of how it is sent.

use crate::secret::Secret;
use std::fmt;
use std::path::PathBuf;

/// HTTP methods used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PATCH
    Patch,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        })
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    /// A text field.
    Text(String, String),
    /// A file field, read from disk.
    File(String, PathBuf),
}

/// A request body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// No body.
    None,
    /// JSON.
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`; values may be secrets.
    Form(Vec<(String, Secret)>),
    /// `multipart/form-data`.
    Multipart(Vec<Part>),
    /// A body built whole beforehand, with the headers that describe it (the artifact
    /// upload: a multipart body, with its version and environment as headers).
    Upload(Upload),
}

/// A body built beforehand ([`Body::Upload`]): held in memory, shared by clones.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    /// The `Content-Type` header.
    pub(crate) content_type: String,
    /// More headers, sent as they are (names and values checked by whoever built them:
    /// visible ASCII only).
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) bytes: std::sync::Arc<Vec<u8>>,
}

/// A request, described once and sent as many times as the policy allows.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// Method.
    pub(crate) method: Method,
    /// Absolute URL without the query.
    pub(crate) url: String,
    /// Query pairs (encoded when sent).
    pub(crate) query: Vec<(String, String)>,
    /// Body.
    pub(crate) body: Body,
    /// Whether sending it twice is harmless (false for the trigger).
    pub(crate) repeatable: bool,
    /// Whether it goes without waiting for a token of the request budget (a cancel: it
    /// must never wait behind the polls it stops).
    pub(crate) urgent: bool,
    /// What this request is, for messages ("the trigger", "the status poll").
    pub(crate) what: String,
}

impl Request {
    /// A repeatable GET.
    pub(crate) fn get(url: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            query: Vec::new(),
            body: Body::None,
            repeatable: true,
            urgent: false,
            what: what.into(),
        }
    }

    /// Add a query pair.
    pub(crate) fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    /// Status code.
    pub(crate) status: u16,
    /// Body text (bytes that are not UTF-8 read as U+FFFD).
    pub(crate) body: String,
    /// The `Location` header, if any (where a redirect points).
    pub(crate) location: Option<String>,
}
