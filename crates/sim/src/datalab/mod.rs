//! The simulated Datalab pipelines API (in `world.rs`, to be split).

mod world;

pub use world::{DatalabPipeline, DatalabRunInfo, DatalabStep, Upload};
pub(crate) use world::{DatalabRun, handle, seed_past, seed_runs};
