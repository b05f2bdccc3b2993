//! Reporters: one module per output. Each reads a [`RunReport`] and writes one format.

pub mod model;

pub use model::{CancelResult, Outcome, PlatformKind, RunReport, Step};
