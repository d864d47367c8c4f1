//! `kind: audit_rotate` / `pi-manage audit rotate`: delete old entries from `pidea_audit`
//! (in the audit database when `PI_AUDIT_SQL_URI` is set).
//!
//! Three modes, as privacyIDEA 3.14 (reference/pimanage-spec.md §2):
//! * watermarks: when there are more than `high` rows, keep exactly the `low` newest by id
//!   (ids have gaps, so the cut is the id of the low-th newest row, not `last_id - low`);
//! * age: `date` older than now minus the age, in local time as privacyIDEA writes it;
//! * rules: the first rule whose column regexes all match decides, and the row goes when it
//!   is older than that rule's age. Without a chunk size all of it is one transaction (as the
//!   single `DELETE` of the other modes): on SQLite one `DELETE` that calls the rules from SQL
//!   for each row, so the table is passed over once as by the raw statement; on the servers
//!   rows are streamed in id order in pages and each page's matches deleted by id. With a
//!   chunk size the pages are read the same way on every backend and every slice of that many
//!   ids is committed on its own. Memory stays flat however large the table is.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{NaiveDateTime, TimeDelta};
use fancy_regex::Regex;
use serde_json::Value as Json;

use super::{TaskContext, TaskOutcome, TaskSite, TaskStatus};
use crate::db::delete::{self, DeletePlan};
use crate::db::{Connection, Row, Value};
use crate::job::diagnostic::{did_you_mean, Diagnostic};
use crate::job::model::{AuditRotate, Duration, Watermark};
use crate::job::source::{escape_segment, Pos, Source};
use crate::pytext::{datetime_str, float_repr, str_repr, timedelta_str};

/// The `kind` string of job files.
pub const KIND: &str = "audit_rotate";

pub const TABLE: &str = "pidea_audit";

/// The columns of `pidea_audit` in privacyIDEA 3.14 (reference/schema.md §5.1).
pub const AUDIT_COLUMNS: &[&str] = &[
    "id",
    "date",
    "startdate",
    "duration",
    "signature",
    "action",
    "success",
    "authentication",
    "serial",
    "token_type",
    "container_serial",
    "container_type",
    "user",
    "realm",
    "resolver",
    "administrator",
    "action_detail",
    "info",
    "privacyidea_server",
    "client",
    "user_agent",
    "user_agent_version",
    "loglevel",
    "clearance_level",
    "thread_id",
    "policies",
];

/// privacyIDEA deletes rules-mode ids in slices of 1000 when no chunk size is given.
const DEFAULT_ID_SLICE: usize = 1000;
/// Rows read per page in rules mode.
const PAGE_ROWS: u64 = 5000;

/// A prepared audit rotation.
#[derive(Debug)]
pub struct AuditRotateTask {
    pub name: String,
    pub mode: RotateMode,
    pub chunksize: Option<u64>,
}

#[derive(Debug)]
pub enum RotateMode {
    Watermark {
        high: u64,
        low: u64,
    },
    Age(Duration),
    Rules {
        rules: Vec<Rule>,
        from_file: Option<PathBuf>,
    },
}

/// One compiled rotation rule.
#[derive(Debug)]
pub struct Rule {
    pub older_than: TimeDelta,
    pub conditions: Vec<Condition>,
    /// How the rule is shown in reports (privacyIDEA's Python dict form for its rules files).
    pub display: String,
}

#[derive(Debug)]
pub struct Condition {
    pub column: String,
    pub regex: Regex,
}

impl AuditRotateTask {
    pub fn prepare(
        name: String,
        spec: &AuditRotate,
        site: &TaskSite<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<AuditRotateTask> {
        let errors_before = diags.iter().filter(|d| d.is_error()).count();
        let given: Vec<&str> = [
            spec.watermark.as_ref().map(|_| "watermark"),
            spec.older_than.map(|_| "older_than"),
            spec.rules.as_ref().map(|_| "rules"),
            spec.rules_file.as_ref().map(|_| "rules_file"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() > 1 {
            diags.push(
                site.error(
                    &format!("/{}", given[1]),
                    format!(
                        "give only one of watermark, older_than, rules and rules_file (found {})",
                        given.join(" and ")
                    ),
                )
                .with_hint("split the modes into separate audit_rotate tasks"),
            );
        }
        let mode = if let Some(age) = spec.older_than {
            if age.is_zero() {
                diags.push(
                    site.error(
                        "/older_than",
                        "older_than: 0 would delete the entire audit log",
                    )
                    .with_hint("give a positive age such as '180d'"),
                );
            }
            RotateMode::Age(age)
        } else if let Some(rules) = &spec.rules {
            let mut compiled = Vec::new();
            for (i, r) in rules.iter().enumerate() {
                let rel = format!("/rules/{i}");
                if r.matches.is_empty() {
                    diags.push(
                        site.error(
                            &format!("{rel}/match"),
                            "a rule needs at least one column condition",
                        )
                        .with_hint("to match every entry, write  match: {action: '.*'}"),
                    );
                }
                let mut conditions = Vec::new();
                for (column, pattern) in &r.matches {
                    let crel = format!("{rel}/match/{}", escape_segment(column));
                    match compile_condition(column, pattern) {
                        Ok(c) => conditions.push(c),
                        Err(ConditionError::UnknownColumn(hint)) => {
                            let mut d =
                                site.error(&crel, format!("unknown audit column '{column}'"));
                            d.line = site.key_pos(&crel).line;
                            d.column = site.key_pos(&crel).column;
                            diags.push(d.with_hint(hint));
                        }
                        Err(ConditionError::BadRegex(e)) => diags
                            .push(site.error(&crel, format!("invalid regular expression: {e}"))),
                    }
                }
                if r.older_than.is_zero() {
                    diags.push(
                        site.error(
                            &format!("{rel}/older_than"),
                            "older_than: 0 would delete every entry this rule matches, including the newest",
                        )
                        .with_hint("give a positive age such as '30d'"),
                    );
                }
                let display = rule_display(r.older_than, &r.matches);
                compiled.push(Rule {
                    older_than: r.older_than.to_chrono(),
                    conditions,
                    display,
                });
            }
            RotateMode::Rules {
                rules: compiled,
                from_file: None,
            }
        } else if let Some(file) = &spec.rules_file {
            let path = site.resolve(file);
            match load_rules_file(&path) {
                Ok(rules) => RotateMode::Rules {
                    rules,
                    from_file: Some(path),
                },
                Err(RulesFileError::Unreadable(e)) => {
                    diags.push(site.error(
                        "/rules_file",
                        format!("cannot read rules file {}: {e}", path.display()),
                    ));
                    RotateMode::Rules {
                        rules: Vec::new(),
                        from_file: Some(path),
                    }
                }
                Err(RulesFileError::Invalid(mut ds)) => {
                    diags.append(&mut ds);
                    RotateMode::Rules {
                        rules: Vec::new(),
                        from_file: Some(path),
                    }
                }
            }
        } else {
            let Watermark { high, low } = spec.watermark.clone().unwrap_or_default();
            // Row counts and ids are signed 64-bit in every database: a larger watermark
            // would wrap negative and delete everything.
            for (field, value) in [("high", high), ("low", low)] {
                if i64::try_from(value).is_err() {
                    diags.push(site.error(
                        &format!("/watermark/{field}"),
                        format!(
                            "watermark {field} {value} is out of range (allowed: 0 to {})",
                            i64::MAX
                        ),
                    ));
                }
            }
            if high < low {
                diags.push(site.warning("/watermark", format!("high ({high}) is below low ({low}): nothing is deleted until the log holds more than {low} entries")));
            }
            RotateMode::Watermark { high, low }
        };
        if diags.iter().filter(|d| d.is_error()).count() > errors_before {
            return None;
        }
        Some(AuditRotateTask {
            name,
            mode,
            chunksize: spec.chunksize,
        })
    }

    fn run_inner(
        &self,
        ctx: &mut TaskContext<'_>,
        out: &mut TaskOutcome,
    ) -> Result<(), super::TaskError> {
        let dry_run = ctx.dry_run;
        let now_local = ctx.clock.now_local();
        let conn = ctx.databases.audit()?;
        out.database = Some(conn.target());
        require_table(conn)?;
        match &self.mode {
            RotateMode::Watermark { high, low } => {
                out.say(
                    ctx.output,
                    format!("Cleaning up with high: {high}, low: {low}."),
                );
                let conn = ctx.databases.audit()?;
                let t = conn.dialect().quote(TABLE);
                let id = conn.dialect().quote("id");
                let count = conn
                    .query_i64(&format!("SELECT count({id}) FROM {t}"), &[])?
                    .unwrap_or(0);
                let last_id = conn
                    .query_i64(&format!("SELECT max({id}) FROM {t}"), &[])?
                    .unwrap_or(0);
                out.say(
                    ctx.output,
                    format!("The log audit log has {count} entries, the last one is {last_id}"),
                );
                if u64::try_from(count).is_ok_and(|c| c <= *high) || count < 0 {
                    out.matched = Some(0);
                    out.deleted = (!dry_run).then_some(0);
                    out.status = if dry_run {
                        TaskStatus::DryRun
                    } else {
                        TaskStatus::Done
                    };
                    return Ok(());
                }
                out.say(ctx.output, format!("More than {high} entries, deleting..."));
                let conn = ctx.databases.audit()?;
                let cut_id = if *low == 0 {
                    last_id.saturating_add(1)
                } else {
                    conn.query_i64(
                        &format!(
                            "SELECT {id} FROM {t} ORDER BY {id} DESC LIMIT 1 OFFSET {}",
                            low - 1
                        ),
                        &[],
                    )?
                    .unwrap_or(0)
                };
                out.say(
                    ctx.output,
                    format!("Deleting entries smaller than {cut_id}"),
                );
                out.cutoff = Some(format!("id < {cut_id}"));
                let plan = DeletePlan {
                    table: TABLE,
                    pk: "id",
                    filter: format!("{id} < ?"),
                    params: vec![Value::Int(cut_id)],
                    chunksize: self.chunksize,
                };
                self.delete_or_count(ctx, out, &plan, "Would delete {} entries.")
            }
            RotateMode::Age(age) => {
                out.say(
                    ctx.output,
                    format!("Cleaning up with age: {}.", age_in_days(*age)),
                );
                let cutoff = age.before(now_local);
                out.say(
                    ctx.output,
                    format!("Deleting entries older than {}", datetime_str(&cutoff)),
                );
                out.cutoff = Some(format!("date < {}", datetime_str(&cutoff)));
                let conn = ctx.databases.audit()?;
                let plan = DeletePlan {
                    table: TABLE,
                    pk: "id",
                    filter: format!("{} < ?", conn.dialect().quote("date")),
                    params: vec![Value::DateTime(cutoff)],
                    chunksize: self.chunksize,
                };
                self.delete_or_count(ctx, out, &plan, "Would delete {} entries.")
            }
            RotateMode::Rules { rules, from_file } => {
                out.say(
                    ctx.output,
                    match from_file {
                        Some(_) => "Cleaning up with config file.".to_string(),
                        None => "Cleaning up with rules.".to_string(),
                    },
                );
                self.run_rules(ctx, out, rules, now_local)
            }
        }
    }

    /// Count (dry run) or delete the rows a plan selects, and report it.
    /// Count (dry run) or delete what a watermark or age plan selects, in the audit database.
    fn delete_or_count(
        &self,
        ctx: &mut TaskContext<'_>,
        out: &mut TaskOutcome,
        plan: &DeletePlan<'_>,
        dry_message: &str,
    ) -> Result<(), super::TaskError> {
        super::cleanup::delete_or_count(
            ctx,
            out,
            super::cleanup::Database::Audit,
            plan,
            "deleting audit entries",
            dry_message,
        )
    }

    fn run_rules(
        &self,
        ctx: &mut TaskContext<'_>,
        out: &mut TaskOutcome,
        rules: &[Rule],
        now_local: NaiveDateTime,
    ) -> Result<(), super::TaskError> {
        let dry_run = ctx.dry_run;
        let interrupt = ctx.interrupt;
        let conn = ctx.databases.audit()?;
        let Some(mut scan) = RulesScan::new(conn, rules, now_local)? else {
            return Ok(());
        };
        let mut observer = if dry_run {
            None
        } else {
            Some(ctx.output.progress("deleting audit entries", None))
        };
        let mut interrupted = None;
        let mut deleted = 0u64;
        let conn = ctx.databases.audit()?;
        if dry_run {
            while scan.next_page(conn)? {}
        } else if let Some(chunk) = self.chunksize {
            // Every slice of `chunk` ids is committed on its own: the operator asked for
            // short transactions, and an interrupted run keeps what it deleted.
            let slice = chunk.max(1) as usize;
            loop {
                let more = scan.next_page(conn)?;
                let take = if more {
                    scan.pending.len() - scan.pending.len() % slice
                } else {
                    scan.pending.len()
                };
                let n = delete::delete_ids(conn, TABLE, "id", &scan.pending[..take], slice, 1)
                    .map_err(|mut e| {
                        e.deleted += deleted;
                        out.deleted = Some(e.deleted);
                        e
                    })?;
                deleted += n;
                scan.pending.drain(..take);
                if let Some(o) = observer.as_mut() {
                    o.chunk_committed(deleted);
                }
                if !more {
                    break;
                }
                if let Some(sig) = interrupt.requested() {
                    // Finish what this page decided, then stop: nothing half-done is left.
                    deleted += delete::delete_ids(conn, TABLE, "id", &scan.pending, slice, 1)
                        .map_err(|mut e| {
                            e.deleted += deleted;
                            out.deleted = Some(e.deleted);
                            e
                        })?;
                    scan.pending.clear();
                    interrupted = Some(sig);
                    break;
                }
            }
        } else {
            // Without a chunk size the whole rotation is one transaction, as the one `DELETE`
            // of the age and watermark modes, with a single commit at the end. Committing every
            // few thousand ids instead cost twice the raw `DELETE` on SQLite, where each commit
            // writes and syncs the same index pages again (docs/benchmarks.md). Where SQL
            // cannot call the rules, each page's matches are deleted by id as soon as they are
            // found (memory stays one page).
            let start = scan.clone_start();
            let n = delete::in_transaction_with_retry(conn, |c| {
                // On SQLite the rules run inside one `DELETE`, as the raw statement would.
                interrupted = None;
                if let Some((n, stopped)) = scan.delete_in_one_statement(c, interrupt)? {
                    interrupted = stopped;
                    if let Some(o) = observer.as_mut() {
                        o.chunk_committed(n);
                    }
                    return Ok(n);
                }
                // A retried transaction starts over.
                scan.restart(&start);
                interrupted = None;
                let mut n = 0u64;
                loop {
                    let more = scan.next_page(c)?;
                    n += delete::delete_ids_in(c, TABLE, "id", &scan.pending, DEFAULT_ID_SLICE)?;
                    scan.pending.clear();
                    if let Some(o) = observer.as_mut() {
                        o.chunk_committed(n);
                    }
                    if !more {
                        break;
                    }
                    if let Some(sig) = interrupt.requested() {
                        interrupted = Some(sig);
                        break;
                    }
                }
                Ok(n)
            })
            .map_err(|error| {
                out.deleted = Some(0);
                delete::DeleteFailed { error, deleted: 0 }
            })?;
            deleted = n;
        }
        drop(observer);
        for (rule, n) in rules.iter().zip(&scan.matcher.matched_per_rule) {
            out.say(
                ctx.output,
                format!("Rule {} matched {n} times.", rule.display),
            );
        }
        out.matched = Some(scan.matcher.found);
        if dry_run {
            out.status = TaskStatus::DryRun;
            out.say(
                ctx.output,
                format!(
                    "If you only would let me I would clean up {} entries!",
                    scan.matcher.found
                ),
            );
        } else {
            out.deleted = Some(deleted);
            out.say(ctx.output, format!("Cleaning up {deleted} entries."));
        }
        if let Some(sig) = interrupted {
            out.status = TaskStatus::Interrupted;
            out.signal = Some(sig);
        }
        Ok(())
    }
}

/// The rules compiled for matching rows read as `columns` (id, date, then every column a rule
/// looks at), with their cut-offs: the first rule whose conditions all match decides, and the
/// row goes when it is older than that rule's cut-off. Shared by the paged scan and the SQL
/// predicate of the single `DELETE` on SQLite, so both decide exactly alike.
#[derive(Default)]
struct RuleMatcher {
    /// Per rule: its cut-off and its conditions as (column index, regex).
    rules: Vec<(NaiveDateTime, Vec<(usize, Regex)>)>,
    columns: Vec<String>,
    /// Python's `str()` of each column of the current row (reused buffers).
    column_text: Vec<String>,
    matched_per_rule: Vec<u64>,
    found: u64,
}

impl RuleMatcher {
    /// Whether the row goes; counts it under the rule that decided.
    fn decide(&mut self, row: &Row) -> bool {
        let Some(date) = row.get(1).as_datetime() else {
            return false;
        };
        for (i, col) in self.columns.iter().enumerate().skip(2) {
            self.column_text[i] = python_str(col, row.get(i));
        }
        for (ri, (cutoff, conditions)) in self.rules.iter().enumerate() {
            let all = conditions.iter().all(|(ci, regex)| {
                let text = match ci {
                    0 => python_str("id", row.get(0)),
                    1 => python_str("date", row.get(1)),
                    _ => return regex.is_match(&self.column_text[*ci]).unwrap_or(false),
                };
                regex.is_match(&text).unwrap_or(false)
            });
            if all {
                if date < *cutoff {
                    self.matched_per_rule[ri] += 1;
                    self.found += 1;
                    return true;
                }
                return false;
            }
        }
        false
    }
}

/// Rules mode's pass over `pidea_audit`: pages of rows older than the latest cut-off, in id
/// order, each matched against the rules (the first rule that matches decides).
struct RulesScan {
    matcher: RuleMatcher,
    latest_cutoff: NaiveDateTime,
    select: String,
    last_id: i64,
    /// Ids matched and not yet deleted.
    pending: Vec<i64>,
}

/// Where a scan stood, to start a retried transaction over.
struct ScanStart {
    last_id: i64,
    found: u64,
    matched_per_rule: Vec<u64>,
}

/// The SQL function through which SQLite asks the rules about each row.
const RULES_FUNCTION: &str = "pi_manage_rotate_rules";

impl RulesScan {
    /// `None` when there are no rules.
    fn new(
        conn: &mut dyn Connection,
        rules: &[Rule],
        now_local: NaiveDateTime,
    ) -> Result<Option<Self>, super::TaskError> {
        let d = conn.dialect();
        // Columns to read: id, date, then every column a rule looks at, each once.
        let mut columns: Vec<String> = vec!["id".into(), "date".into()];
        for r in rules {
            for c in &r.conditions {
                if !columns.contains(&c.column) {
                    columns.push(c.column.clone());
                }
            }
        }
        let present = conn.table_columns(TABLE)?;
        for c in &columns {
            if !present.iter().any(|p| p == c) {
                return Err(super::TaskError::Database(format!(
                    "{TABLE} in {} has no column '{c}' (an audit table from an older privacyIDEA?); remove that condition from the rules",
                    conn.target()
                )));
            }
        }
        let compiled: Vec<(NaiveDateTime, Vec<(usize, Regex)>)> = rules
            .iter()
            .map(|r| {
                let cutoff = now_local
                    .checked_sub_signed(r.older_than)
                    .unwrap_or(NaiveDateTime::MIN);
                let conditions = r
                    .conditions
                    .iter()
                    .map(|c| {
                        let ci = columns.iter().position(|x| *x == c.column).unwrap_or(0);
                        (ci, c.regex.clone())
                    })
                    .collect();
                (cutoff, conditions)
            })
            .collect();
        // No rule can delete a row newer than the latest cut-off, so only older rows are read.
        let Some(latest_cutoff) = compiled.iter().map(|(c, _)| *c).max() else {
            return Ok(None);
        };
        let select = format!(
            "SELECT {} FROM {} WHERE {} > ? AND {} < ? ORDER BY {} LIMIT {PAGE_ROWS}",
            columns
                .iter()
                .map(|c| d.quote(c))
                .collect::<Vec<_>>()
                .join(", "),
            d.quote(TABLE),
            d.quote("id"),
            d.quote("date"),
            d.quote("id"),
        );
        Ok(Some(RulesScan {
            matcher: RuleMatcher {
                matched_per_rule: vec![0; compiled.len()],
                rules: compiled,
                column_text: vec![String::new(); columns.len()],
                columns,
                found: 0,
            },
            latest_cutoff,
            select,
            last_id: i64::MIN,
            pending: Vec::new(),
        }))
    }

    fn clone_start(&self) -> ScanStart {
        ScanStart {
            last_id: self.last_id,
            found: self.matcher.found,
            matched_per_rule: self.matcher.matched_per_rule.clone(),
        }
    }

    fn restart(&mut self, start: &ScanStart) {
        self.last_id = start.last_id;
        self.matcher.found = start.found;
        self.matcher
            .matched_per_rule
            .clone_from(&start.matched_per_rule);
        self.pending.clear();
    }

    /// Read and match the next page, adding the ids to delete to `pending`. `false` when this
    /// was the last page.
    fn next_page(&mut self, conn: &mut dyn Connection) -> Result<bool, crate::db::DbError> {
        let mut page_rows = 0u64;
        let RulesScan {
            matcher,
            last_id,
            pending,
            ..
        } = self;
        conn.for_each_row(
            &self.select,
            &[Value::Int(*last_id), Value::DateTime(self.latest_cutoff)],
            &mut |row| {
                page_rows += 1;
                *last_id = row.get(0).as_i64().unwrap_or(*last_id);
                if matcher.decide(row) {
                    pending.push(row.get(0).as_i64().unwrap_or_default());
                }
                Ok(())
            },
        )?;
        Ok(page_rows == PAGE_ROWS)
    }

    /// The whole rotation as one `DELETE` in the caller's transaction, SQLite calling the
    /// rules for each row older than the latest cut-off: the same single pass over the table
    /// as the raw `DELETE … WHERE date < CASE …`, with no rows read out and no ids sent back.
    /// `None` when the backend cannot call the rules from SQL. The counts start from zero, so
    /// a retried transaction counts afresh. After an interrupt the rules keep every further
    /// row, and the signal is returned with what was deleted before it.
    fn delete_in_one_statement(
        &mut self,
        conn: &mut dyn Connection,
        interrupt: &crate::interrupt::Interrupt,
    ) -> Result<Option<(u64, Option<i32>)>, crate::db::DbError> {
        let d = conn.dialect();
        let sql = format!(
            "DELETE FROM {} WHERE {} < ? AND {RULES_FUNCTION}({})",
            d.quote(TABLE),
            d.quote("date"),
            self.matcher
                .columns
                .iter()
                .map(|c| d.quote(c))
                .collect::<Vec<_>>()
                .join(", "),
        );
        self.matcher.found = 0;
        self.matcher.matched_per_rule.fill(0);
        let matcher = std::mem::take(&mut self.matcher);
        let n_args = matcher.columns.len();
        // The predicate owns the matcher while SQLite runs; it comes back through here.
        let shared = std::sync::Arc::new(std::sync::Mutex::new((matcher, None::<i32>, 0u32)));
        let in_sql = std::sync::Arc::clone(&shared);
        let interrupt = interrupt.clone();
        let predicate: crate::db::RowPredicate = Box::new(move |row: &Row| {
            let mut guard = in_sql
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (matcher, stopped, calls) = &mut *guard;
            if stopped.is_some() {
                return false;
            }
            // Checking the flag costs a lock when a lease deadline is attached: not every row
            // (but the first, so a stop asked for before the statement deletes nothing).
            let check = *calls % 1024 == 0;
            *calls = calls.wrapping_add(1);
            if check {
                if let Some(sig) = interrupt.requested() {
                    *stopped = Some(sig);
                    return false;
                }
            }
            matcher.decide(row)
        });
        let result = conn.execute_with_predicate(
            &sql,
            &[Value::DateTime(self.latest_cutoff)],
            RULES_FUNCTION,
            n_args,
            predicate,
        );
        // The connection dropped the predicate (and its clone of `shared`) when it returned.
        let (matcher, stopped) = match std::sync::Arc::try_unwrap(shared) {
            Ok(m) => {
                let (matcher, stopped, _) = m
                    .into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                (matcher, stopped)
            }
            Err(shared) => {
                let mut g = shared
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let stopped = g.1;
                let matcher = std::mem::take(&mut g.0);
                (matcher, stopped)
            }
        };
        self.matcher = matcher;
        Ok(result?.map(|n| (n, stopped)))
    }
}

super::task_kind!(AuditRotateTask);

/// privacyIDEA prints the age in whole days; durations that are not whole days keep their unit.
fn age_in_days(age: Duration) -> String {
    if age.as_secs().is_multiple_of(86_400) {
        (age.as_secs() / 86_400).to_string()
    } else {
        age.to_string()
    }
}

fn require_table(conn: &mut dyn Connection) -> Result<(), super::TaskError> {
    super::require_tables(conn, &[TABLE])
}

enum ConditionError {
    UnknownColumn(String),
    BadRegex(String),
}

fn compile_condition(column: &str, pattern: &str) -> Result<Condition, ConditionError> {
    if !AUDIT_COLUMNS.contains(&column) {
        let hint = match did_you_mean(column, AUDIT_COLUMNS.iter().copied()) {
            Some(s) => format!("did you mean '{s}'?"),
            None => format!("audit columns are: {}", AUDIT_COLUMNS.join(", ")),
        };
        return Err(ConditionError::UnknownColumn(hint));
    }
    let regex = Regex::new(pattern).map_err(|e| ConditionError::BadRegex(e.to_string()))?;
    Ok(Condition {
        column: column.to_string(),
        regex,
    })
}

fn rule_display(
    older_than: Duration,
    matches: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut s = format!("{{'older_than': '{older_than}'");
    for (k, v) in matches {
        let _ = write!(s, ", {}: {}", str_repr(k), str_repr(v));
    }
    s.push('}');
    s
}

/// Python's `str()` of an audit column value as read from the database; rules match their
/// regexes against this text, as privacyIDEA does (`None` for NULL, `0`/`1` for `success`,
/// `YYYY-MM-DD HH:MM:SS[.ffffff]` for dates, `H:MM:SS[.ffffff]` for `duration`).
pub fn python_str(column: &str, value: &Value) -> String {
    match (column, value) {
        (_, Value::Null) => "None".into(),
        ("date" | "startdate", v) => match v.as_datetime() {
            Some(dt) => datetime_str(&dt),
            None => plain_str(v),
        },
        ("duration", Value::Text(t)) => match crate::db::Value::Text(t.clone()).as_datetime() {
            // SQLite and MySQL store an interval as 1970-01-01 + duration.
            Some(dt) => timedelta_str(dt - epoch()),
            None => t.clone(),
        },
        ("duration", Value::DateTime(dt)) => timedelta_str(*dt - epoch()),
        (_, v) => plain_str(v),
    }
}

fn plain_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_repr(*f),
        Value::Text(t) => t.clone(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::DateTime(dt) => datetime_str(dt),
    }
}

fn epoch() -> NaiveDateTime {
    chrono::DateTime::UNIX_EPOCH.naive_utc()
}

/// Python's `repr()` of a YAML scalar as PyYAML loads it.
fn py_repr(v: &Json) -> String {
    match v {
        Json::Null => "None".into(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Number(n) => {
            if n.is_f64() {
                float_repr(n.as_f64().unwrap_or_default())
            } else {
                n.to_string()
            }
        }
        Json::String(s) => str_repr(s),
        other => other.to_string(),
    }
}

/// Python's `str()` of a YAML scalar (what privacyIDEA turns a rule value into before using
/// it as a regex).
fn py_str(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => py_repr(other),
    }
}

enum RulesFileError {
    Unreadable(std::io::Error),
    Invalid(Vec<Diagnostic>),
}

/// The largest `rotate:` (days) a rules file may give: the same bound as every other age
/// ([`crate::job::duration::MAX_AGE_DAYS`]).
const MAX_ROTATE_DAYS: i64 = crate::job::duration::MAX_AGE_DAYS as i64;

/// Read privacyIDEA's own rules file (`audit rotate --config`): a YAML list of mappings,
/// each with `rotate: DAYS` and column regexes. Problems privacyIDEA would crash on or
/// silently ignore are reported with their position in that file.
fn load_rules_file(path: &std::path::Path) -> Result<Vec<Rule>, RulesFileError> {
    let text = match crate::input_file::read_text(path, crate::input_file::MAX_DOCUMENT) {
        Ok(t) => t,
        Err(crate::input_file::InputFileError::Io(e)) => return Err(RulesFileError::Unreadable(e)),
        Err(e) => {
            let (line, column) = e.line_column();
            return Err(RulesFileError::Invalid(vec![Diagnostic::error(
                path,
                Pos { line, column },
                "",
                format!("cannot read the rules file: {e}"),
            )]));
        }
    };
    let source = Source::parse(path, &text).map_err(|e| {
        RulesFileError::Invalid(vec![Diagnostic::error(
            path,
            e.pos,
            "",
            format!("YAML syntax error: {}", e.message),
        )])
    })?;
    let mut diags = Vec::new();
    let rules = rules_from_source(&source, &mut diags);
    if diags.is_empty() {
        Ok(rules)
    } else {
        Err(RulesFileError::Invalid(diags))
    }
}

fn rules_from_source(source: &Source, diags: &mut Vec<Diagnostic>) -> Vec<Rule> {
    let path = &source.path;
    let err = |ptr: &str, msg: String| Diagnostic::error(path, source.pos(ptr), ptr, msg);
    let list = match &source.value {
        Json::Array(items) if !items.is_empty() => items,
        Json::Array(_) | Json::Null => {
            diags.push(
                err("", "the rules file has no rules".into())
                    .with_hint("write a YAML list such as\n  - rotate: 180\n    action: .*"),
            );
            return Vec::new();
        }
        _ => {
            diags.push(
                err("", "the rules file must be a YAML list of rules".into())
                    .with_hint("write a YAML list such as\n  - rotate: 180\n    action: .*"),
            );
            return Vec::new();
        }
    };
    let mut rules = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let ptr = format!("/{i}");
        let Some(map) = item.as_object() else {
            diags.push(err(
                &ptr,
                "a rule must be a mapping of 'rotate' and column regexes".into(),
            ));
            continue;
        };
        let days = match map.get("rotate") {
            None => {
                diags.push(
                    err(&ptr, "rule has no 'rotate' (the age in days)".into())
                        .with_hint("privacyIDEA crashes on such a rule; add e.g.  rotate: 30"),
                );
                None
            }
            Some(v) => {
                // privacyIDEA computes timedelta(days=rotate): a string or float crashes it
                // or means fractions of days; only whole numbers of days are taken.
                let rptr = format!("{ptr}/rotate");
                let range = format!("from 1 to {MAX_ROTATE_DAYS} days");
                match v {
                    Json::Number(n) => match n.as_i64() {
                        Some(d) if (1..=MAX_ROTATE_DAYS).contains(&d) => Some(d),
                        Some(d) if d < 0 => {
                            diags.push(err(&rptr, format!("'rotate' must not be negative: a negative age would delete every matching entry (allowed: {range})")));
                            None
                        }
                        Some(0) => {
                            diags.push(err(&rptr, format!("'rotate: 0' would delete every entry this rule matches, including the newest (allowed: {range})")).with_hint("give an age of at least 1 day"));
                            None
                        }
                        _ if n.is_f64() => {
                            diags.push(err(&rptr, format!("'rotate' must be a whole number of days, found {n} (allowed: {range})")));
                            None
                        }
                        _ => {
                            diags.push(err(
                                &rptr,
                                format!("'rotate: {n}' is out of range (allowed: {range})"),
                            ));
                            None
                        }
                    },
                    other => {
                        diags.push(
                            err(
                                &rptr,
                                format!(
                                    "'rotate' must be a whole number of days, found {} {}",
                                    crate::policy::entry::json_type(other),
                                    py_repr(other)
                                ),
                            )
                            .with_hint("write it without quotes, e.g.  rotate: 30"),
                        );
                        None
                    }
                }
            }
        };
        let mut conditions = Vec::new();
        let mut display = String::from("{");
        for (k, v) in map {
            if display.len() > 1 {
                display.push_str(", ");
            }
            let _ = write!(display, "{}: {}", str_repr(k), py_repr(v));
            if k == "rotate" {
                continue;
            }
            let kptr = format!("{ptr}/{}", escape_segment(k));
            if !v.is_string() {
                // privacyIDEA hands the value to re.search, which raises on anything but a
                // string: the whole rotation would crash at the first entry.
                diags.push(
                    err(
                        &kptr,
                        format!(
                        "the condition for '{k}' must be a regular expression (a string), found {}",
                        crate::policy::entry::json_type(v)
                    ),
                    )
                    .with_hint(format!("quote it, e.g.  {k}: '{}'", py_str(v))),
                );
                continue;
            }
            match compile_condition(k, &py_str(v)) {
                Ok(c) => conditions.push(c),
                Err(ConditionError::UnknownColumn(hint)) => diags.push(
                    Diagnostic::error(path, source.key_pos(&kptr), &kptr, format!("unknown audit column '{k}' (privacyIDEA would silently never match this rule)"))
                        .with_hint(hint),
                ),
                Err(ConditionError::BadRegex(e)) => {
                    diags.push(err(&kptr, format!("invalid regular expression: {e}")))
                }
            }
        }
        display.push('}');
        if map.keys().all(|k| k == "rotate") {
            diags.push(err(&ptr, "rule has no column condition, so it never matches (privacyIDEA ignores it silently)".into()).with_hint("to match every entry, add  action: .*"));
        }
        if let Some(days) = days {
            rules.push(Rule {
                // In range (checked above), so this cannot overflow.
                older_than: TimeDelta::try_days(days).unwrap_or(TimeDelta::MAX),
                conditions,
                display,
            });
        }
    }
    rules
}

impl super::KindSpec for crate::job::model::AuditRotate {
    const KIND: &'static str = KIND;

    fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn prepare(
        &self,
        name: String,
        site: &super::TaskSite<'_>,
        diags: &mut Vec<crate::job::diagnostic::Diagnostic>,
    ) -> Option<super::Task> {
        AuditRotateTask::prepare(name, self, site, diags).map(super::Task::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn rules(yaml: &str) -> Result<Vec<Rule>, Vec<String>> {
        let s = Source::parse(Path::new("rules.yaml"), yaml).unwrap();
        let mut d = Vec::new();
        let r = rules_from_source(&s, &mut d);
        if d.is_empty() {
            Ok(r)
        } else {
            Err(d.iter().map(|d| d.to_string()).collect())
        }
    }

    #[test]
    fn privacyidea_rules_file_and_its_display() {
        let r = rules("- rotate: 5\n  user: nils\n  action: .*/validate/check.*\n- rotate: 2\n  action: ^GET /token\n- rotate: 15\n  action: .*\n").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[0].display,
            "{'rotate': 5, 'user': 'nils', 'action': '.*/validate/check.*'}"
        );
        assert_eq!(r[1].older_than, TimeDelta::days(2));
    }

    #[test]
    fn rules_file_bugs_of_the_peer_are_errors() {
        let e = rules("").unwrap_err();
        assert!(
            e[0].starts_with("rules.yaml:1:1: the rules file has no rules"),
            "{e:?}"
        );
        let e = rules("- user: nils\n").unwrap_err();
        assert!(e[0].contains("rule has no 'rotate'"), "{e:?}");
        let e = rules("- rotate: 30\n").unwrap_err();
        assert!(e[0].contains("never matches"), "{e:?}");
        let e = rules("- rotate: 30\n  usr: x\n").unwrap_err();
        assert!(
            e[0].starts_with("rules.yaml:2:3: unknown audit column 'usr'")
                && e[0].contains("did you mean 'user'"),
            "{e:?}"
        );
        let e = rules("- rotate: -1\n  user: x\n").unwrap_err();
        assert!(e[0].contains("must not be negative"), "{e:?}");
        let e = rules("- rotate: 3\n  user: '(unclosed'\n").unwrap_err();
        assert!(
            e[0].starts_with("rules.yaml:2:9: invalid regular expression"),
            "{e:?}"
        );
    }

    /// The one-statement `DELETE` of rules mode on SQLite stops inside the statement when
    /// asked: the rules keep every row after the poll that saw the stop, the rows decided
    /// before it are gone, and a second run deletes exactly the rest.
    #[test]
    fn one_statement_rules_delete_stops_inside_the_statement() {
        let dir = tempfile::tempdir().unwrap();
        let opts = crate::db::OpenOptions {
            create: true,
            ..Default::default()
        };
        let mut conn =
            crate::db::sqlite::SqliteConnection::open_path(&dir.path().join("a.db"), &opts)
                .unwrap();
        conn.execute_batch(
            "CREATE TABLE pidea_audit (id INTEGER PRIMARY KEY, date DATETIME, action TEXT);
             CREATE INDEX ix_pidea_audit_date ON pidea_audit (date);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO pidea_audit SELECT i, datetime('2020-01-01', '+' || i || ' minutes'),
                 'POST /validate/check' FROM n;",
        )
        .unwrap();
        let now =
            NaiveDateTime::parse_from_str("2026-01-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let rules = rules("- rotate: 1\n  action: validate\n").unwrap();
        let ids = |conn: &mut crate::db::sqlite::SqliteConnection| {
            let mut v = Vec::new();
            conn.for_each_row("SELECT id FROM pidea_audit ORDER BY id", &[], &mut |r| {
                v.push(r.get(0).as_i64().unwrap());
                Ok(())
            })
            .unwrap();
            v
        };

        // The predicate polls at its 1st, 1025th and 2049th row: two polls go on, the third
        // stops, so exactly the 2048 oldest rows were decided (and all of them match).
        let mut scan = RulesScan::new(&mut conn, &rules, now).unwrap().unwrap();
        let stop = crate::interrupt::Interrupt::tripping_after(2);
        let (n, stopped) = scan
            .delete_in_one_statement(&mut conn, &stop)
            .unwrap()
            .expect("SQLite runs the rules inside the DELETE");
        assert_eq!((n, stopped), (2048, Some(15)));
        assert_eq!(scan.matcher.matched_per_rule, vec![2048]);
        assert_eq!(ids(&mut conn), (2049..=5000).collect::<Vec<i64>>());

        let mut scan = RulesScan::new(&mut conn, &rules, now).unwrap().unwrap();
        let go_on = crate::interrupt::Interrupt::new();
        let (n, stopped) = scan
            .delete_in_one_statement(&mut conn, &go_on)
            .unwrap()
            .unwrap();
        assert_eq!((n, stopped), (2952, None));
        assert!(ids(&mut conn).is_empty());

        // Stopped before the statement: its first poll stops it, nothing is deleted.
        conn.execute_batch(
            "INSERT INTO pidea_audit VALUES (1, '2020-01-01 00:00:00', 'POST /validate/check')",
        )
        .unwrap();
        let mut scan = RulesScan::new(&mut conn, &rules, now).unwrap().unwrap();
        let (n, stopped) = scan
            .delete_in_one_statement(&mut conn, &crate::interrupt::Interrupt::tripping_after(0))
            .unwrap()
            .unwrap();
        assert_eq!((n, stopped), (0, Some(15)));
        assert_eq!(ids(&mut conn), vec![1]);
    }

    #[test]
    fn python_string_forms() {
        assert_eq!(python_str("user", &Value::Null), "None");
        assert_eq!(python_str("success", &Value::Int(1)), "1");
        assert_eq!(
            python_str("date", &Value::Text("2026-11-22 12:51:01.000000".into())),
            "2026-11-22 12:51:01"
        );
        assert_eq!(
            python_str(
                "duration",
                &Value::Text("1970-01-01 00:00:00.200327".into())
            ),
            "0:00:00.200327"
        );
        assert_eq!(timedelta_str(TimeDelta::seconds(90061)), "1 day, 1:01:01");
        assert_eq!(timedelta_str(TimeDelta::seconds(-1)), "-1 day, 23:59:59");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(py_repr(&serde_json::json!(null)), "None");
    }
}
