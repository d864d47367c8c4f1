//! SIGINT/SIGTERM handling: a signal asks running work to stop at the next safe point (the
//! end of the current chunk); a second signal of the same kind ends the process at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Reported by [`Interrupt::requested`] when a run's lease deadline passed: another node may
/// own the job now, so destructive work must stop (fencing).
pub const LEASE_LOST: i32 = 1000;
/// Reported when a run exceeded its job's `timeout`.
pub const TIMED_OUT: i32 = 1001;

/// A shared "please stop" flag holding the number of the signal that asked (0 = none).
/// Tasks poll it between chunks. Tests create their own and trigger it by hand.
///
/// A *child* flag (one per scheduled run) also stops when its parent (the process's signal
/// flag) does, and when its lease deadline passes without being extended.
#[derive(Clone, Default, Debug)]
pub struct Interrupt {
    signal: Arc<AtomicUsize>,
    parent: Option<Box<Interrupt>>,
    deadline: Option<Arc<Mutex<Instant>>>,
    /// Unit tests only: how many more polls answer "go on" before this flag trips as if
    /// SIGTERM had arrived, so a test can stop work at an exact point inside a statement.
    #[cfg(test)]
    polls_left: Option<Arc<AtomicUsize>>,
}

impl Interrupt {
    /// A flag no signal is wired to.
    pub fn new() -> Self {
        Interrupt::default()
    }

    /// The process-wide flag, wired to SIGINT and SIGTERM on first use.
    pub fn global() -> Self {
        static GLOBAL: OnceLock<Interrupt> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let it = Interrupt::new();
                it.install();
                it
            })
            .clone()
    }

    fn install(&self) {
        use signal_hook::consts::{SIGINT, SIGTERM};
        for sig in [SIGINT, SIGTERM] {
            // Order matters: the conditional shutdown checks the flag *before* the second
            // registration sets it, so only a repeated signal exits immediately.
            let repeated = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let _ = signal_hook::flag::register_conditional_shutdown(
                sig,
                128 + sig,
                Arc::clone(&repeated),
            );
            let _ = signal_hook::flag::register(sig, repeated);
            let _ = signal_hook::flag::register_usize(sig, Arc::clone(&self.signal), sig as usize);
        }
    }

    /// A flag for one run: stops with `self`, when triggered itself, or at `deadline` unless
    /// [`Interrupt::extend`]ed.
    pub fn child(&self, deadline: Option<Instant>) -> Interrupt {
        Interrupt {
            signal: Arc::default(),
            parent: Some(Box::new(self.clone())),
            deadline: deadline.map(|d| Arc::new(Mutex::new(d))),
            #[cfg(test)]
            polls_left: None,
        }
    }

    /// A flag whose first `polls` polls answer "go on" and which then trips with SIGTERM.
    #[cfg(test)]
    pub(crate) fn tripping_after(polls: usize) -> Interrupt {
        Interrupt {
            polls_left: Some(Arc::new(AtomicUsize::new(polls))),
            ..Interrupt::default()
        }
    }

    /// Move the lease deadline (the lease was renewed).
    pub fn extend(&self, deadline: Instant) {
        if let Some(d) = &self.deadline {
            if let Ok(mut g) = d.lock() {
                *g = deadline;
            }
        }
    }

    /// The signal number (or [`LEASE_LOST`], [`TIMED_OUT`]) that asked to stop, if any.
    pub fn requested(&self) -> Option<i32> {
        #[cfg(test)]
        if let Some(left) = &self.polls_left {
            if left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
            {
                self.trigger(15);
            }
        }
        match self.signal.load(Ordering::SeqCst) {
            0 => {}
            s => return Some(s as i32),
        }
        if let Some(d) = &self.deadline {
            if d.lock().map(|g| Instant::now() >= *g).unwrap_or(false) {
                return Some(LEASE_LOST);
            }
        }
        self.parent.as_ref().and_then(|p| p.requested())
    }

    /// Ask to stop as if `signal` had arrived.
    pub fn trigger(&self, signal: i32) {
        self.signal.store(signal as usize, Ordering::SeqCst);
    }
}

/// The exit code a run stopped by `signal` ends with (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code(signal: i32) -> i32 {
    match signal {
        LEASE_LOST | TIMED_OUT => 1,
        s => 128 + s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn children_follow_parent_deadline_and_own_trigger() {
        let parent = Interrupt::new();
        let child = parent.child(Some(Instant::now() + Duration::from_secs(60)));
        assert_eq!(child.requested(), None);
        child.extend(Instant::now() - Duration::from_millis(1));
        assert_eq!(child.requested(), Some(LEASE_LOST));
        let child = parent.child(None);
        child.trigger(TIMED_OUT);
        assert_eq!(child.requested(), Some(TIMED_OUT));
        assert_eq!(parent.requested(), None, "a child never stops its parent");
        let child = parent.child(None);
        parent.trigger(15);
        assert_eq!(child.requested(), Some(15));
    }

    #[test]
    fn a_tripping_flag_answers_go_on_exactly_so_often() {
        let it = Interrupt::tripping_after(2);
        assert_eq!(it.requested(), None);
        assert_eq!(it.requested(), None);
        assert_eq!(it.requested(), Some(15));
        assert_eq!(it.requested(), Some(15));
    }
}
