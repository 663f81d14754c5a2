//! The online signals of the window just closed, as remediation's deciders see them
//! ([`crate::remediation::class::Signals`]): what dashboards show, never the fault schedule.
//! (Skeleton: filled in with the "classify" work.)

use sim_core::{SimDuration, SimTime};

use super::World;
use super::control::{ClientWindow, GroupWindow};
use crate::remediation::class::Signals;

impl World {
    /// The signals at window end `now`, from the window just closed.
    #[allow(dead_code)]
    pub(super) fn signals(
        &self,
        now: SimTime,
        width: SimDuration,
        _groups: &[GroupWindow],
        _clients: &[ClientWindow],
    ) -> Signals {
        Signals {
            now_s: now.as_secs_f64(),
            window_s: width.as_secs_f64(),
            ..Signals::default()
        }
    }
}
