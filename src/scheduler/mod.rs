//! The scheduler that replaces cron: cron expressions and their next fire times in a time
//! zone ([`cron`]) and a job's union of them ([`job_schedule`]), the run ledger that makes each slot run once across nodes ([`ledger`]),
//! the long-running loop ([`daemon`]), and what it reports to monitoring: [`metrics`] (served
//! by [`metrics_http`] in the [`exposition`] format) and systemd's notify protocol ([`systemd`]).

pub mod cron;
pub mod daemon;
pub mod deferred;
pub mod exposition;
pub mod job_schedule;
pub mod ledger;
pub mod metrics;
pub mod metrics_http;
pub mod slot;
pub mod systemd;
