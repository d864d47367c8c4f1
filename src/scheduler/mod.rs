//! The scheduler: cron expressions and their next fire times. (The long-running
//! `pi-manage schedule` loop and its run ledger build on this.)

pub mod cron;
