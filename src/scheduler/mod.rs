//! The scheduler that replaces cron: cron expressions and their next fire times in a time
//! zone ([`cron`]), the run ledger that makes each slot run once across nodes ([`ledger`]),
//! and the long-running loop ([`daemon`]).

pub mod cron;
pub mod daemon;
pub mod deferred;
pub mod ledger;
pub mod slot;
