//! Run scripts: how a simulated Matillion execution unfolds over clock time — its
//! intermediate statuses, its steps (generated lazily from their index, so 30,000 steps
//! cost nothing until a page is asked for), which steps fail and with what message, and
//! how it ends. Everything here is a pure function of "time since the execution started".

use std::collections::BTreeMap;
use std::time::Duration;

/// How one published pipeline behaves when executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunScript {
    /// Clock time from start to the final status (intermediate phases included).
    pub duration: Duration,
    /// The final status, e.g. `SUCCESS`, `FAILED`, `CANCELLED`, `SKIPPED`.
    pub final_status: String,
    /// The final message; `None` derives one (`"Last step": Success`, or the first failing
    /// step's message).
    pub final_message: Option<String>,
    /// How many steps the execution has.
    pub steps: usize,
    /// Statuses reported before the run proper (`RUNNING`) starts, in order.
    pub phases: Vec<Phase>,
    /// Per-step overrides, by 0-based index; unlisted steps are named `Step N` and succeed.
    pub step_specs: BTreeMap<usize, StepSpec>,
    /// The step list is empty until the execution ends (the API does not document whether
    /// a running execution lists its steps); by default steps are listed as they start.
    pub steps_only_at_end: bool,
}

/// A status reported from the end of the previous phase until `until` (since start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// Offset from the execution's start at which this phase ends.
    pub until: Duration,
    /// The status reported during the phase (may be unknown to clients, e.g. `PENDING_AGENT`).
    pub status: String,
}

/// Overrides for one step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepSpec {
    /// The step's name (default `Step N`, N from 1).
    pub name: Option<String>,
    /// The step's final status (default `SUCCESS`).
    pub status: Option<String>,
    /// The step's final message (default empty).
    pub message: Option<String>,
    /// The child pipeline this step ran, if any.
    pub child_pipeline: Option<String>,
}

impl RunScript {
    /// A run that succeeds after `duration` with `steps` steps.
    pub fn new(duration: Duration, steps: usize) -> Self {
        Self {
            duration,
            final_status: "SUCCESS".into(),
            final_message: None,
            steps,
            phases: Vec::new(),
            step_specs: BTreeMap::new(),
            steps_only_at_end: false,
        }
    }

    /// Same as [`RunScript::new`].
    pub fn success(duration: Duration, steps: usize) -> Self {
        Self::new(duration, steps)
    }

    /// A run that ends `FAILED` because step `index` failed with `message`.
    pub fn failure(duration: Duration, steps: usize, index: usize, message: &str) -> Self {
        Self::new(duration, steps)
            .status("FAILED")
            .fail_step(index, message)
    }

    /// Set the final status.
    pub fn status(mut self, status: &str) -> Self {
        self.final_status = status.into();
        self
    }

    /// Set the final message.
    pub fn message(mut self, message: &str) -> Self {
        self.final_message = Some(message.into());
        self
    }

    /// Report `status` until `until` after start (phases must be added in time order).
    pub fn phase(mut self, until: Duration, status: &str) -> Self {
        self.phases.push(Phase {
            until,
            status: status.into(),
        });
        self
    }

    fn spec(&mut self, index: usize) -> &mut StepSpec {
        self.step_specs.entry(index).or_default()
    }

    /// Make step `index` end `FAILED` with `message`.
    pub fn fail_step(mut self, index: usize, message: &str) -> Self {
        let s = self.spec(index);
        s.status = Some("FAILED".into());
        s.message = Some(message.into());
        self
    }

    /// Name step `index`.
    pub fn step_name(mut self, index: usize, name: &str) -> Self {
        self.spec(index).name = Some(name.into());
        self
    }

    /// Set step `index`'s final status.
    pub fn step_status(mut self, index: usize, status: &str) -> Self {
        self.spec(index).status = Some(status.into());
        self
    }

    /// Set step `index`'s final message.
    pub fn step_message(mut self, index: usize, message: &str) -> Self {
        self.spec(index).message = Some(message.into());
        self
    }

    /// List no steps until the execution has ended (then all of them).
    pub fn steps_only_at_end(mut self) -> Self {
        self.steps_only_at_end = true;
        self
    }

    /// Make step `index` run the child pipeline `name`.
    pub fn child_pipeline(mut self, index: usize, name: &str) -> Self {
        self.spec(index).child_pipeline = Some(name.into());
        self
    }

    /// When the `RUNNING` part starts (the end of the last phase, capped at the duration).
    pub(crate) fn run_start(&self) -> Duration {
        self.phases
            .iter()
            .map(|p| p.until)
            .max()
            .unwrap_or_default()
            .min(self.duration)
    }

    /// Start and end offsets of step `i` (steps share the running part evenly).
    pub(crate) fn step_window(&self, i: usize) -> (Duration, Duration) {
        let start = self.run_start();
        let span = self.duration.saturating_sub(start).as_nanos();
        let n = self.steps.max(1) as u128;
        let at = |k: usize| {
            let nanos = span * k as u128 / n;
            start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        };
        (at(i), at(i + 1))
    }

    /// The step's name.
    pub(crate) fn step_name_of(&self, i: usize) -> String {
        self.step_specs
            .get(&i)
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| format!("Step {}", i + 1))
    }

    fn step_final_status(&self, i: usize) -> String {
        self.step_specs
            .get(&i)
            .and_then(|s| s.status.clone())
            .unwrap_or_else(|| "SUCCESS".into())
    }

    fn step_final_message(&self, i: usize) -> String {
        self.step_specs
            .get(&i)
            .and_then(|s| s.message.clone())
            .unwrap_or_default()
    }

    /// The final message of the whole execution.
    pub(crate) fn final_message_text(&self) -> String {
        if let Some(m) = &self.final_message {
            return m.clone();
        }
        let failing = self.step_specs.iter().find(|(_, s)| {
            s.status
                .as_deref()
                .is_some_and(|st| st != "SUCCESS" && st != "SKIPPED")
        });
        match self.final_status.as_str() {
            "SUCCESS" if self.steps > 0 => {
                format!("\"{}\": Success", self.step_name_of(self.steps - 1))
            }
            "SUCCESS" => "Success".into(),
            _ => match failing {
                Some((i, s)) => format!(
                    "\"{}\": {}",
                    self.step_name_of(*i),
                    s.message.clone().unwrap_or_default()
                ),
                None => format!("Pipeline ended {}", self.final_status),
            },
        }
    }
}

/// A cancellation in progress or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cancel {
    /// Offset from start at which the cancel was accepted.
    pub(crate) requested_at: Duration,
    /// How long CANCELLING lasts.
    pub(crate) delay: Duration,
}

/// Where an execution stands at some offset from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    /// The status now.
    pub(crate) status: String,
    /// The message now (empty while running).
    pub(crate) message: String,
    /// Offset from start at which it finished, if it has.
    pub(crate) finished: Option<Duration>,
}

/// One step as seen at some offset (times are offsets from the execution's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepView {
    /// 0-based index.
    pub(crate) index: usize,
    /// Name.
    pub(crate) name: String,
    /// Status now.
    pub(crate) status: String,
    /// Message now.
    pub(crate) message: String,
    /// Offset at which it started.
    pub(crate) started: Duration,
    /// Offset at which it finished, if it has.
    pub(crate) finished: Option<Duration>,
    /// Child pipeline name, if any.
    pub(crate) child_pipeline: Option<String>,
}

impl RunScript {
    /// The execution's status `elapsed` after its start.
    pub(crate) fn progress(&self, elapsed: Duration, cancel: Option<Cancel>) -> Progress {
        if let Some(c) = cancel {
            let end = c.requested_at + c.delay;
            if elapsed >= end {
                return Progress {
                    status: "CANCELLED".into(),
                    message: "Pipeline execution was cancelled".into(),
                    finished: Some(end),
                };
            }
            if elapsed >= c.requested_at {
                return Progress {
                    status: "CANCELLING".into(),
                    message: String::new(),
                    finished: None,
                };
            }
        }
        if elapsed >= self.duration {
            return Progress {
                status: self.final_status.clone(),
                message: self.final_message_text(),
                finished: Some(self.duration),
            };
        }
        let status = self
            .phases
            .iter()
            .find(|p| elapsed < p.until)
            .map(|p| p.status.clone())
            .unwrap_or_else(|| "RUNNING".into());
        Progress {
            status,
            message: String::new(),
            finished: None,
        }
    }

    /// How many steps have started by `elapsed` (cancel freezes it at the cancel time).
    pub(crate) fn visible_steps(&self, elapsed: Duration, cancel: Option<Cancel>) -> usize {
        let t = effective_time(self, elapsed, cancel);
        if self.steps == 0 || t < self.run_start() {
            return 0;
        }
        if self.steps_only_at_end && self.progress(elapsed, cancel).finished.is_none() {
            return 0;
        }
        // Binary search for the first step that starts after t.
        let (mut lo, mut hi) = (0usize, self.steps);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.step_window(mid).0 <= t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Step `i` as seen `elapsed` after start (call only for visible steps).
    pub(crate) fn step_view(
        &self,
        i: usize,
        elapsed: Duration,
        cancel: Option<Cancel>,
    ) -> StepView {
        let t = effective_time(self, elapsed, cancel);
        let (started, end) = self.step_window(i);
        let spec = self.step_specs.get(&i);
        let child_pipeline = spec.and_then(|s| s.child_pipeline.clone());
        let name = self.step_name_of(i);
        let (status, message, finished) = if end <= t {
            (
                self.step_final_status(i),
                self.step_final_message(i),
                Some(end),
            )
        } else {
            let p = self.progress(elapsed, cancel);
            if p.status == "CANCELLED" {
                ("CANCELLED".to_string(), "Cancelled".to_string(), p.finished)
            } else {
                ("RUNNING".to_string(), String::new(), None)
            }
        };
        StepView {
            index: i,
            name,
            status,
            message,
            started,
            finished,
            child_pipeline,
        }
    }
}

/// The offset at which step progress is judged: capped at the end, frozen at a cancel.
fn effective_time(script: &RunScript, elapsed: Duration, cancel: Option<Cancel>) -> Duration {
    let t = elapsed.min(script.duration);
    match cancel {
        Some(c) => t.min(c.requested_at),
        None => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn phases_then_running_then_final() {
        let s = RunScript::new(secs(10), 4)
            .phase(secs(2), "QUEUED")
            .phase(secs(4), "PENDING_AGENT");
        assert_eq!(s.progress(secs(0), None).status, "QUEUED");
        assert_eq!(s.progress(secs(3), None).status, "PENDING_AGENT");
        assert_eq!(s.progress(secs(4), None).status, "RUNNING");
        let end = s.progress(secs(11), None);
        assert_eq!(end.status, "SUCCESS");
        assert_eq!(end.message, "\"Step 4\": Success");
        assert_eq!(end.finished, Some(secs(10)));
        assert_eq!(s.visible_steps(secs(3), None), 0);
        assert_eq!(s.visible_steps(secs(4), None), 1);
        assert_eq!(s.visible_steps(secs(7), None), 3);
        assert_eq!(s.visible_steps(secs(100), None), 4);
        assert_eq!(s.step_view(2, secs(7), None).status, "RUNNING");
        assert_eq!(s.step_view(1, secs(7), None).status, "SUCCESS");
        assert_eq!(s.step_view(3, secs(10), None).status, "SUCCESS");
    }

    #[test]
    fn failures_and_cancel() {
        let s = RunScript::failure(secs(10), 5, 3, "boom\nstatus=SUCCESS");
        let p = s.progress(secs(10), None);
        assert_eq!(p.status, "FAILED");
        assert_eq!(p.message, "\"Step 4\": boom\nstatus=SUCCESS");
        assert_eq!(s.step_view(3, secs(10), None).status, "FAILED");
        let c = Some(Cancel {
            requested_at: secs(5),
            delay: secs(2),
        });
        assert_eq!(s.progress(secs(6), c).status, "CANCELLING");
        assert_eq!(s.progress(secs(7), c).status, "CANCELLED");
        assert_eq!(s.visible_steps(secs(9), c), 3);
        assert_eq!(s.step_view(2, secs(9), c).status, "CANCELLED");
        assert_eq!(s.step_view(2, secs(6), c).status, "RUNNING");
    }

    #[test]
    fn steps_only_at_the_end() {
        let s = RunScript::new(secs(10), 4).steps_only_at_end();
        assert_eq!(s.visible_steps(secs(9), None), 0);
        assert_eq!(s.visible_steps(secs(10), None), 4);
    }

    #[test]
    fn many_steps_are_cheap() {
        let s = RunScript::new(secs(3600), 30_000);
        assert_eq!(s.visible_steps(secs(1800), None), 15_001);
        assert_eq!(s.step_view(29_999, secs(3600), None).name, "Step 30000");
    }
}
