//! SIGINT/SIGTERM handling: a signal asks running work to stop at the next safe point (the
//! end of the current chunk); a second signal of the same kind ends the process at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// A shared "please stop" flag holding the number of the signal that asked (0 = none).
/// Tasks poll it between chunks. Tests create their own and trigger it by hand.
#[derive(Clone, Default, Debug)]
pub struct Interrupt {
    signal: Arc<AtomicUsize>,
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

    /// The signal number that asked to stop, if any.
    pub fn requested(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// Ask to stop as if `signal` had arrived.
    pub fn trigger(&self, signal: i32) {
        self.signal.store(signal as usize, Ordering::SeqCst);
    }
}

/// The exit code a run stopped by `signal` ends with (130 for SIGINT, 143 for SIGTERM).
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}
