//! The process exit codes, in one place. The README's "Exit codes" table mirrors this enum.

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
    /// Interrupted by SIGINT.
    Interrupted,
    /// Interrupted by SIGTERM.
    Terminated,
}

impl Exit {
    /// The numeric exit code.
    pub fn code(self) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::RunFailed => 1,
            Exit::BadInput => 2,
            Exit::TimedOut => 3,
            Exit::Refused => 4,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let all = [
            (Exit::Success, 0),
            (Exit::RunFailed, 1),
            (Exit::BadInput, 2),
            (Exit::TimedOut, 3),
            (Exit::Refused, 4),
            (Exit::Interrupted, 130),
            (Exit::Terminated, 143),
        ];
        for (e, c) in all {
            assert_eq!(e.code(), c, "{e:?}");
        }
    }
}
