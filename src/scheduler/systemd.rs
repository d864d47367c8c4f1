//! The scheduler's side of systemd's notify protocol (sd-notify; nothing is sent when
//! `NOTIFY_SOCKET` is unset): `READY=1` once the job files are loaded and every job's run
//! ledger was reached, `WATCHDOG=1` from the loop at half the interval `WATCHDOG_USEC` asks
//! for, `STATUS=` naming the job due next, and `STOPPING=1` on shutdown.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use sd_notify::NotifyState;

use super::metrics::SchedulerMetrics;

pub struct SystemdNotifier {
    watchdog_every: Option<Duration>,
    last_watchdog: Option<Instant>,
    ready: bool,
    status: String,
}

impl SystemdNotifier {
    pub fn from_env() -> SystemdNotifier {
        SystemdNotifier {
            // systemd's advice: ping at half the timeout, so one late ping is not fatal.
            watchdog_every: sd_notify::watchdog_enabled().map(|d| d / 2),
            last_watchdog: None,
            ready: false,
            status: String::new(),
        }
    }

    /// Called on every turn of the scheduler loop.
    pub fn tick(&mut self, metrics: &SchedulerMetrics) {
        if !self.ready && metrics.ledgers_reached() {
            self.ready = true;
            send(&[NotifyState::Ready]);
        }
        if let Some(every) = self.watchdog_every {
            if self.last_watchdog.is_none_or(|t| t.elapsed() >= every) {
                self.last_watchdog = Some(Instant::now());
                send(&[NotifyState::Watchdog]);
            }
        }
        let status = status_line(self.ready, metrics.next_due());
        if status != self.status {
            send(&[NotifyState::Status(&status)]);
            self.status = status;
        }
    }

    pub fn stopping(&mut self) {
        send(&[
            NotifyState::Stopping,
            NotifyState::Status("stopping: waiting for running jobs to finish their chunk"),
        ]);
    }
}

fn status_line(ready: bool, next: Option<(String, DateTime<Utc>)>) -> String {
    let next = match next {
        Some((job, at)) => format!(
            "next: {job} at {}",
            at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        None => "no job due".into(),
    };
    if ready {
        next
    } else {
        format!("waiting for the run ledger; {next}")
    }
}

fn send(states: &[NotifyState]) {
    // A service manager that cannot be told is not a reason to stop scheduling.
    let _ = sd_notify::notify(states);
}
