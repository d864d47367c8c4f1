//! privacyidea-cron's output, line for line (reference §7): the `list` table and the lines of
//! `run_scheduled` and `run_manually`, with Python's `format` and `repr` rules.

use super::store::PeriodicTask;
use crate::policy::pyjson;
use crate::pytext::str_repr;

/// `'{active!s:7.7} {id:3} {name:16.16}\t{interval:16.16}\t{taskmodule:16}\t{node_list:20}\t{options_json}'`;
/// `id` comes padded, since Python aligns the integer id right and the heading's "ID" left.
fn list_line(
    active: &str,
    id: &str,
    name: &str,
    interval: &str,
    module: &str,
    nodes: &str,
    options: &str,
) -> String {
    format!("{active:7.7} {id} {name:16.16}\t{interval:16.16}\t{module:16}\t{nodes:20}\t{options}")
}

/// The heading of `list` and its rule of 120 `=`.
pub fn list_heading() -> [String; 2] {
    [
        list_line(
            "Active",
            &format!("{:<3}", "ID"),
            "Name",
            "Interval",
            "Task Module",
            "Nodes",
            "Options",
        ),
        "=".repeat(120),
    ]
}

/// One task of `list`.
pub fn list_row(t: &PeriodicTask) -> String {
    list_line(
        if t.active { "True" } else { "False" },
        &format!("{:>3}", t.id),
        &t.name,
        &t.interval,
        &t.taskmodule,
        &t.nodes.join(", "),
        &options_json(t),
    )
}

/// `json.dumps(options)`: `{"key": "value", …}` with Python's separators and escaping.
pub fn options_json(t: &PeriodicTask) -> String {
    let parts: Vec<String> = t
        .options
        .iter()
        .map(|(k, v)| {
            let v = v.as_deref().map(pyjson::string).unwrap_or("null".into());
            format!("{}: {v}", pyjson::string(k))
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

pub fn scheduled_heading(node: &str) -> String {
    format!("The following tasks are scheduled to run on node {node}:")
}

/// `  {name} ({interval!r}, {taskmodule})`
pub fn scheduled_task(t: &PeriodicTask) -> String {
    format!("  {} ({}, {})", t.name, str_repr(&t.interval), t.taskmodule)
}

pub fn nothing_scheduled(node: &str) -> String {
    format!("There are no tasks scheduled on node {node}.")
}

pub const DRY_RUN: &str = "Not running any tasks because --dryrun was passed.";
pub const ALL_OK: &str = "All scheduled tasks executed successfully.";
pub const SOME_FAILED: &str = "Some tasks exited with errors.";

/// Printed without a newline before the module runs.
pub fn running(name: &str) -> String {
    format!("Running {} ...", str_repr(name))
}

pub fn succeeded(name: &str, node: &str) -> String {
    format!(
        "Task {} on node {} exited successfully. Noting this in the database ...",
        str_repr(name),
        str_repr(node)
    )
}

pub fn caught(name: &str, repr: &str) -> String {
    format!("Caught exception when running {}: {repr}", str_repr(name))
}

pub fn failed(name: &str, node: &str) -> String {
    format!(
        "Task {} on node {} did not run successfully.",
        str_repr(name),
        str_repr(node)
    )
}

pub const NOT_RECORDED: &str =
    "This unsuccessful run is not recorded in the database, so the task stays due.";
pub const RECORDED: &str =
    "This unsuccessful run is recorded in the database as the last run of the task.";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    #[test]
    fn list_lines_as_privacyidea_cron_prints_them() {
        let [heading, rule] = list_heading();
        assert_eq!(
            heading,
            "Active  ID  Name            \tInterval        \tTask Module     \tNodes               \tOptions"
        );
        assert_eq!(rule.len(), 120);
        let t = PeriodicTask {
            id: 1,
            name: "task1".into(),
            active: true,
            retry_if_failed: true,
            interval: "*/5 * * * *".into(),
            nodes: vec!["node1".into()],
            taskmodule: "SimpleStats".into(),
            ordering: 0,
            last_update: NaiveDateTime::default(),
            options: vec![("total_tokens".into(), Some("True".into()))],
            last_runs: vec![],
        };
        assert_eq!(
            list_row(&t),
            "True      1 task1           \t*/5 * * * *     \tSimpleStats     \tnode1               \t{\"total_tokens\": \"True\"}"
        );
        let long = PeriodicTask {
            active: false,
            id: 1234,
            name: "a name longer than sixteen".into(),
            options: vec![("k".into(), None), ("ü".into(), Some("\"".into()))],
            ..t
        };
        assert_eq!(
            list_row(&long),
            "False   1234 a name longer th\t*/5 * * * *     \tSimpleStats     \tnode1               \t{\"k\": null, \"\\u00fc\": \"\\\"\"}"
        );
        assert_eq!(
            scheduled_task(&long),
            "  a name longer than sixteen ('*/5 * * * *', SimpleStats)"
        );
    }
}
