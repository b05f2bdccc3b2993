//! SIGINT and SIGTERM. The binary may be PID 1 in a container, where an unhandled signal is
//! ignored, so both are handled: the first wakes every sleep and starts the clean-up (cancel
//! the run, write the reports); a second one ends the process at once.

use crate::clock::{Signal, SignalState};
use crate::exit::Exit;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// Start the signal thread. Each signal is recorded in `state` and sent on `tx`; the second
/// one exits the process with its code.
pub(crate) fn install(state: Arc<SignalState>, tx: Sender<Signal>) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for raw in signals.forever() {
                let sig = if raw == SIGINT {
                    Signal::Int
                } else {
                    Signal::Term
                };
                let n = state.raise(sig);
                if n >= 2 {
                    eprintln!("pipeline-run: second signal ({sig}): exiting now");
                    std::process::exit(Exit::from(sig).code());
                }
                let _ = tx.send(sig);
            }
        })?;
    Ok(())
}
