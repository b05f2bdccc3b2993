//! The process exit codes, in one place. The README's "Exit codes" table mirrors this enum
//! (checked by the integration tests through [`Exit::ALL`]).

use crate::clock::Signal;
use crate::model::Outcome;

/// How the process ends. Each variant maps to one documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The execution ended SUCCESS (or `wait: false` and the trigger was accepted,
    /// or a dry run / cancel request succeeded).
    Success,
    /// The execution ended in another terminal status (FAILED, CANCELLED, SKIPPED, ...).
    RunFailed,
    /// An input was invalid; nothing was sent.
    BadInput,
    /// The wait timed out.
    TimedOut,
    /// The platform refused, or could not be reached within the deadline.
    Refused,
    /// `status` only: the execution is still running.
    StillRunning,
    /// Interrupted by SIGINT.
    Interrupted,
    /// Interrupted by SIGTERM.
    Terminated,
}

impl Exit {
    /// Every variant, for the checks that each has its own documented code.
    pub const ALL: [Exit; 8] = [
        Exit::Success,
        Exit::RunFailed,
        Exit::BadInput,
        Exit::TimedOut,
        Exit::Refused,
        Exit::StillRunning,
        Exit::Interrupted,
        Exit::Terminated,
    ];

    /// How bad an exit is, for several pipelines in one step: the step exits with the worst
    /// of theirs. From best to worst: success (0), still running (5: `status` only), a
    /// run failed (1), timed out (3), refused or unreachable (4), an input was invalid (2:
    /// never a pipeline's own), interrupted (130, 143).
    pub(crate) fn rank(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::StillRunning => 1,
            Exit::RunFailed => 2,
            Exit::TimedOut => 3,
            Exit::Refused => 4,
            Exit::BadInput => 5,
            Exit::Interrupted | Exit::Terminated => 6,
        }
    }

    /// The numeric exit code (a signal's is 128 + its number).
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::RunFailed => 1,
            Exit::BadInput => 2,
            Exit::TimedOut => 3,
            Exit::Refused => 4,
            Exit::StillRunning => 5,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }
}

impl From<Signal> for Exit {
    fn from(s: Signal) -> Self {
        match s {
            Signal::Int => Exit::Interrupted,
            Signal::Term => Exit::Terminated,
        }
    }
}

/// The exit code for a finished run.
impl From<&Outcome> for Exit {
    fn from(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Succeeded
            | Outcome::Triggered
            | Outcome::DryRun
            | Outcome::CancelRequested => Exit::Success,
            Outcome::Failed | Outcome::Stopped { .. } => Exit::RunFailed,
            Outcome::TimedOut { .. } => Exit::TimedOut,
            Outcome::Running => Exit::StillRunning,
            Outcome::Refused { .. } => Exit::Refused,
            Outcome::Interrupted { signal, .. } => Exit::from(*signal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CancelResult;
    use std::collections::HashSet;

    #[test]
    fn every_variant_has_its_own_code_and_all_lists_each_once() {
        let codes: HashSet<i32> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), Exit::ALL.len(), "two variants share a code");
        let variants: HashSet<String> = Exit::ALL.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(variants.len(), Exit::ALL.len(), "ALL lists a variant twice");
        // A shell reads 128 + n as "killed by signal n": only the signals may use it.
        for e in Exit::ALL {
            let c = e.code();
            assert!((0..=255).contains(&c), "{e:?}: {c}");
            let by_signal = matches!(e, Exit::Interrupted | Exit::Terminated);
            assert_eq!(c > 128, by_signal, "{e:?}: {c}");
        }
    }

    #[test]
    fn a_signal_exits_with_128_plus_its_number() {
        // SIGINT is 2 and SIGTERM 15 on every platform the binary ships for.
        assert_eq!(Exit::from(Signal::Int).code(), 128 + 2);
        assert_eq!(Exit::from(Signal::Term).code(), 128 + 15);
        let interrupted = |signal| Outcome::Interrupted {
            signal,
            cancel: CancelResult::Cancelled,
        };
        assert_eq!(Exit::from(&interrupted(Signal::Int)), Exit::Interrupted);
        assert_eq!(Exit::from(&interrupted(Signal::Term)), Exit::Terminated);
    }
}
