//! Following a kill sequence, the same way for every site type: wait, send
//! a signal, look at the answer, stop when the job is gone.

use nix::sys::signal::Signal;

use super::{CancelStatus, KillSequence};
use crate::connection::Outcome;
use crate::error::{Error, Result};

/// How one step of a kill sequence ended.
pub enum Step {
    /// The job got the signal.
    Delivered,
    /// The job is not known (any more).
    Gone,
    /// The site ended the kill another way (for instance it removed a job
    /// that was still queued).
    Done(CancelStatus),
    /// The command failed for another reason.
    Failed(Error),
}

impl Step {
    /// Reads a signalling command's outcome: success, a job that is `gone`,
    /// or the error made by `failed`.
    pub fn from_outcome(out: &Outcome, gone: bool, failed: impl FnOnce() -> Error) -> Step {
        if out.dryrun || out.success() {
            Step::Delivered
        } else if gone {
            Step::Gone
        } else {
            Step::Failed(failed())
        }
    }
}

/// Follows `seq`, waiting before each step (not in dry-run) and sending its
/// signal with `send(step_index, signal)`. At the first step a gone job is
/// VANISHED and a failure is an error; after a delivered signal, either means
/// the job has ended and the sequence stops. The status is KILLED when SIGKILL
/// was delivered, TERMINATED when only signals the job can catch were.
pub fn follow(
    seq: &KillSequence,
    dryrun: bool,
    mut send: impl FnMut(usize, Signal) -> Result<Step>,
) -> Result<CancelStatus> {
    let mut sent_kill = false;
    for (i, (wait, sig)) in seq.0.iter().enumerate() {
        if !dryrun && !wait.is_zero() {
            std::thread::sleep(*wait);
        }
        match send(i, *sig)? {
            Step::Delivered => sent_kill |= *sig == Signal::SIGKILL,
            Step::Done(status) => return Ok(status),
            Step::Gone if i == 0 => return Ok(CancelStatus::Vanished),
            Step::Failed(e) if i == 0 => return Err(e),
            Step::Gone | Step::Failed(_) => {
                crate::debug!("The job has ended after {} was sent", seq.0[i - 1].1.as_str());
                break;
            }
        }
    }
    Ok(if sent_kill {
        CancelStatus::Killed
    } else {
        CancelStatus::Terminated
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn seq(sigs: &[Signal]) -> KillSequence {
        KillSequence(sigs.iter().map(|s| (Duration::ZERO, *s)).collect())
    }

    #[test]
    fn statuses() {
        let term_kill = seq(&[Signal::SIGTERM, Signal::SIGKILL]);
        assert_eq!(
            follow(&term_kill, false, |_, _| Ok(Step::Delivered)).unwrap(),
            CancelStatus::Killed
        );
        let ended = |i: usize, _| Ok(if i == 0 { Step::Delivered } else { Step::Gone });
        assert_eq!(follow(&term_kill, false, ended).unwrap(), CancelStatus::Terminated);
        assert_eq!(
            follow(&term_kill, false, |_, _| Ok(Step::Gone)).unwrap(),
            CancelStatus::Vanished
        );
        assert!(follow(&term_kill, false, |_, _| Ok(Step::Failed(Error::run("no")))).is_err());
        let kill_then_term = seq(&[Signal::SIGKILL, Signal::SIGTERM]);
        assert_eq!(
            follow(&kill_then_term, false, |_, _| Ok(Step::Delivered)).unwrap(),
            CancelStatus::Killed
        );
        let queued = |_, _| Ok(Step::Done(CancelStatus::Cancelled));
        assert_eq!(follow(&term_kill, false, queued).unwrap(), CancelStatus::Cancelled);
    }
}
