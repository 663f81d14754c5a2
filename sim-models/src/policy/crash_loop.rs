//! Kubernetes' crash-loop back-off for one instance restarted again and again.
//!
//! Semantics follow the kubelet (client-go's `flowcontrol.Backoff` as the kubelet uses it
//! for container restarts): the first restart happens at once; each further restart waits
//! a back-off first, 10 s, doubling, at most 5 min (`CrashLoopBackOff`); an instance that
//! has run 10 min since it was last up again without a restart starts over at no back-off.
//!
//! Where it differs: the kubelet forgets the back-off 10 min (twice the cap) after its last
//! update, i.e. after the previous restart began; here the 10 min count from when the
//! instance was up again, as Kubernetes' documentation states it ("executed for 10 minutes
//! without any problems"). The kubelet adds no jitter to container back-off either.

use sim_core::{SimDuration, SimTime};

/// The back-off before the second restart of a crash loop.
pub const INITIAL: SimDuration = SimDuration::from_secs(10);
/// The longest back-off.
pub const MAX: SimDuration = SimDuration::from_secs(300);
/// Up this long without a restart, an instance's crash loop is forgotten.
pub const RESET_AFTER: SimDuration = SimDuration::from_secs(600);

/// One instance's restarts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrashLoop {
    /// Restarts in the current crash loop.
    restarts: u32,
    /// When it is (or was) up again after its last restart.
    up_at: Option<SimTime>,
}

impl CrashLoop {
    /// A restart begins at `now` and takes `restart_time` once started: returns the
    /// back-off it waits first. It is down for back-off + `restart_time`.
    pub fn restart(&mut self, now: SimTime, restart_time: SimDuration) -> SimDuration {
        let forgotten = self
            .up_at
            .is_none_or(|up| now >= up && now - up >= RESET_AFTER);
        if forgotten {
            self.restarts = 0;
        }
        let backoff = match self.restarts {
            0 => SimDuration::ZERO,
            n => crate::policy::capped_exponential(INITIAL, MAX, 2.0, n),
        };
        self.restarts += 1;
        self.up_at = Some(now.saturating_add(backoff).saturating_add(restart_time));
        backoff
    }

    /// Restarts in the current crash loop.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_secs(s)
    }
    const RT: SimDuration = SimDuration::from_secs(5);

    /// (restart at, back-off waited), one instance, restarts 5 s long.
    #[test]
    fn back_off_doubles_to_its_cap_and_is_forgotten_after_ten_minutes_up() {
        let mut c = CrashLoop::default();
        let table = [
            (100, 0),   // first restart: at once; up at 105
            (110, 10),  // 5 s up: 10 s; up at 125
            (130, 20),  // up at 155
            (160, 40),  // up at 205
            (210, 80),  // up at 295
            (300, 160), // up at 465
            (470, 300), // 320 capped at 300; up at 775
            (780, 300), // still capped; up at 1085
            // Up from 1085: 599 s later is not yet 10 min.
            (1684, 300), // up at 2289
            // 10 min up: forgotten.
            (2889, 0),
            (2900, 10),
        ];
        for (now, backoff) in table {
            assert_eq!(
                c.restart(at(now), RT),
                SimDuration::from_secs(backoff),
                "restart at {now}s"
            );
        }
        assert_eq!(c.restarts(), 2);
    }

    /// A restart while the instance is still down from the last one is part of the loop.
    #[test]
    fn a_restart_while_down_backs_off() {
        let mut c = CrashLoop::default();
        assert_eq!(
            c.restart(at(0), SimDuration::from_secs(60)),
            SimDuration::ZERO
        );
        assert_eq!(c.restart(at(30), RT), INITIAL);
    }
}
