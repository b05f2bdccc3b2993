//! Reading one input for [`from_lookup`](super::from_lookup): its value or its default,
//! checked for its form (boolean, duration, URL, secret, required), every error collected
//! with the input it is about; and values shortened for messages ([`show`]).

use super::InputError;
use crate::inputs::{self, Given, Input};
use crate::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;

/// Reads inputs and collects errors.
pub(super) struct Reader<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(super) errors: Vec<InputError>,
}

/// Shorten a value for a message.
pub(super) fn show(v: &str) -> String {
    const MAX: usize = 80;
    let one_line: String = v
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() > MAX {
        let cut: String = one_line.chars().take(MAX).collect();
        format!("'{cut}…'")
    } else {
        format!("'{one_line}'")
    }
}

fn spec(id: &str) -> &'static Input {
    match inputs::find(id) {
        Some(i) => i,
        // The ids used below are all in the table; a unit test reads every one.
        None => &inputs::INPUTS[0],
    }
}

impl<'a> Reader<'a> {
    pub(super) fn err(&mut self, input: &'static str, message: impl Into<String>) {
        self.errors.push(InputError {
            input,
            message: message.into(),
        });
    }

    pub(super) fn raw(&self, id: &str) -> Option<Given> {
        inputs::read(spec(id), self.lookup)
    }

    /// The value given, else the default.
    pub(super) fn get(&self, id: &str) -> Option<String> {
        self.raw(id)
            .map(|g| g.value)
            .or_else(|| spec(id).default.map(str::to_string))
    }

    pub(super) fn string(&self, id: &str) -> Option<String> {
        self.get(id)
    }

    pub(super) fn required(&mut self, id: &'static str, what: &str) -> String {
        match self.get(id) {
            Some(v) => v,
            None => {
                self.err(id, format!("is required: {what}."));
                String::new()
            }
        }
    }

    pub(super) fn secret(&mut self, id: &'static str) -> Option<Secret> {
        let v = self.raw(id)?.value;
        if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.err(
                id,
                "contains white space or control characters (value not shown: it is a secret).",
            );
        }
        Some(Secret::new(v))
    }

    pub(super) fn boolean(&mut self, id: &'static str) -> Option<bool> {
        let v = self.get(id)?;
        match v.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.err(id, format!("got {}; expected `true` or `false`.", show(&v)));
                None
            }
        }
    }

    pub(super) fn duration(&mut self, id: &'static str) -> Option<Duration> {
        let v = self.get(id)?;
        match humantime::parse_duration(&v) {
            Ok(d) if d.is_zero() => {
                self.err(
                    id,
                    format!("got {}; it must be longer than zero.", show(&v)),
                );
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                self.err(
                    id,
                    format!(
                        "got {}; expected a duration with a unit, such as `30s`, `90m` or `2h`.",
                        show(&v)
                    ),
                );
                None
            }
        }
    }

    pub(super) fn url(&mut self, id: &'static str, v: &str) -> Option<String> {
        let lower = v.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        match rest {
            Some(r) if !r.is_empty() && !r.starts_with('/') && !v.contains(char::is_whitespace) => {
                Some(v.trim_end_matches('/').to_string())
            }
            _ => {
                self.err(
                    id,
                    format!(
                        "got {}; expected an http:// or https:// URL with a host.",
                        show(v)
                    ),
                );
                None
            }
        }
    }

    pub(super) fn path(&mut self, id: &'static str) -> Option<PathBuf> {
        self.get(id).map(PathBuf::from)
    }
}
