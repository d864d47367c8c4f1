//! privacyIDEA's periodic tasks (`periodictask`, `periodictaskoption`, `periodictasklastrun`)
//! run as `privacyidea-cron` runs them (reference §7): which tasks are due on a node, the two
//! task modules of the 3.14 release writing `monitoringstats` rows, and the per-node last-run
//! bookkeeping with `retry_if_failed`.
//!
//! * `store`: reading the tasks and recording a node's last run;
//! * `due`: the cron interval in the server's local time, croniter's way;
//! * `node`: the node name (`PI_NODE` …) and UUID (`PI_NODE_UUID` …);
//! * `modules`: the module map, with `simple_stats` and `event_counter` on `monitoring` and
//!   `token_counts`;
//! * `lines`: privacyidea-cron's output formats; `runner`: `run_scheduled`, `run_manually`.

pub mod due;
pub mod event_counter;
pub mod lines;
pub mod modules;
pub mod monitoring;
pub mod node;
pub mod runner;
pub mod simple_stats;
pub mod store;
pub mod token_counts;
