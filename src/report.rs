//! The only writer to stdout besides `main`: run reports (human text, or JSON for machines),
//! validation results, and progress bars (on stderr, only when it is a terminal).
//!
//! Two text styles: `Plan` for `pi-manage run` (a header per task and a summary line), and
//! `Peer` for the imperative commands that mirror privacyIDEA's CLI, which print exactly the
//! lines privacyIDEA prints, so scripts that read them keep working.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::db::delete::DeleteObserver;
use crate::executor::{JobReport, RunOutput};
use crate::job::diagnostic::Diagnostic;
use crate::tasks::{Task, TaskOutcome, TaskOutput, TaskStatus};

/// Output format chosen with `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Text style (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plan,
    Peer,
}

/// Shows a run as it happens and keeps the reports for the JSON output.
pub struct Reporter {
    format: Format,
    style: Style,
    quiet: bool,
    progress: bool,
    pub reports: Vec<JobReport>,
    /// The running task's name, and products (key, value) per task name for the JSON
    /// report (see [`TaskOutput::product`]).
    current_task: String,
    products: Vec<(String, String, String)>,
}

impl Reporter {
    pub fn new(format: Format, style: Style, quiet: bool) -> Self {
        let progress = format == Format::Text && !quiet && std::io::stderr().is_terminal();
        Reporter {
            format,
            style,
            quiet,
            progress,
            reports: Vec::new(),
            current_task: String::new(),
            products: Vec::new(),
        }
    }

    fn text(&self) -> bool {
        self.format == Format::Text && !self.quiet
    }

    /// Print the collected reports as one JSON document (JSON format only).
    pub fn finish(&self) {
        if self.format == Format::Json {
            #[derive(Serialize)]
            struct Run<'a> {
                jobs: &'a [JobReport],
                exit_code: i32,
            }
            let run = Run {
                jobs: &self.reports,
                exit_code: crate::executor::exit_code(&self.reports),
            };
            let text = serde_json::to_string_pretty(&run).expect("report serialises");
            out_line(&text);
        }
    }
}

impl TaskOutput for Reporter {
    fn message(&mut self, line: &str) {
        if self.text() {
            match self.style {
                Style::Plan => out_line(&format!("  {line}")),
                Style::Peer => out_line(line),
            }
            let _ = std::io::stdout().flush();
        }
    }

    fn warning(&mut self, line: &str) {
        if self.text() {
            err_line(line);
        }
    }

    fn product(&mut self, key: &str, label: &str, value: &str) {
        match self.format {
            Format::Json => {
                self.products.push((
                    self.current_task.clone(),
                    key.to_string(),
                    value.to_string(),
                ));
            }
            // A script asked for the product alone.
            Format::Text if self.quiet => out_line(value),
            Format::Text => self.message(&format!("{label}: {value}")),
        }
    }

    fn progress(&mut self, label: &str, total: Option<u64>) -> Box<dyn DeleteObserver> {
        if !self.progress {
            return Box::new(crate::db::delete::NoProgress);
        }
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "  {msg} [{bar:30}] {human_pos}/{human_len} rows, {rate}, ETA {eta}",
                    )
                    .expect("static template")
                    .with_key("rate", rate)
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("  {spinner} {msg}: {human_pos} rows, {rate}")
                    .expect("static template")
                    .with_key("rate", rate),
            ),
        };
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(Progress(bar))
    }

    fn shows_progress(&self) -> bool {
        self.progress
    }

    fn byte_progress(
        &mut self,
        label: &str,
        total: Option<u64>,
    ) -> Box<dyn crate::backup::ByteProgress> {
        if !self.progress {
            return Box::new(crate::backup::NoByteProgress);
        }
        let style = match total {
            Some(_) => {
                "  {msg} [{bar:30}] {bytes}/{total_bytes}, {binary_bytes_per_sec}, ETA {eta}"
            }
            None => "  {spinner} {msg}: {bytes}, {binary_bytes_per_sec}",
        };
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template(style)
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Box::new(Progress(bar))
    }
}

/// Byte progress of backups on the same bar type.
impl crate::backup::ByteProgress for Progress {
    fn set(&mut self, done: u64) {
        self.0.set_position(done);
    }
    fn set_label(&mut self, label: &str) {
        self.0.set_message(label.to_string());
    }
}

/// Rows per second, whole numbers only.
fn rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{:.0} rows/s", state.per_sec());
}

struct Progress(ProgressBar);

impl DeleteObserver for Progress {
    fn chunk_committed(&mut self, deleted_so_far: u64) {
        self.0.set_position(deleted_so_far);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl RunOutput for Reporter {
    fn job_started(&mut self, job: &str, file: &str, dry_run: bool) {
        if self.text() && self.style == Style::Plan {
            let dry = if dry_run {
                " (dry run: nothing will be changed)"
            } else {
                ""
            };
            out_line(&format!("Job {job} ({file}){dry}"));
        }
    }

    fn task_started(&mut self, task: &Task) {
        self.current_task = task.name().to_string();
        if self.text() && self.style == Style::Plan {
            out_line(&format!("- {} [{}]", task.name(), task.kind()));
        }
    }

    fn task_finished(&mut self, o: &TaskOutcome) {
        if o.status == TaskStatus::Failed {
            if self.format == Format::Text {
                err_line(&format!(
                    "pi-manage: task {} failed: {}",
                    o.name,
                    o.error.as_deref().unwrap_or("unknown error")
                ));
            }
            return;
        }
        if o.status == TaskStatus::Interrupted && o.kind.starts_with("backup") {
            if self.format == Format::Text {
                err_line("pi-manage: interrupted; nothing was written or changed.");
            }
            return;
        }
        if o.status == TaskStatus::Interrupted && self.format == Format::Text {
            err_line(&format!(
                "pi-manage: interrupted; {} rows were deleted and committed. Run the task again to continue.",
                o.deleted.unwrap_or(0)
            ));
        }
        if self.text() && self.style == Style::Plan {
            out_line(&format!("  {}", summary(o)));
        }
    }

    fn job_finished(&mut self, report: &JobReport) {
        if self.text() && self.style == Style::Plan {
            for t in report
                .tasks
                .iter()
                .filter(|t| t.status == TaskStatus::Skipped)
            {
                out_line(&format!(
                    "- {} [{}]\n  skipped (an earlier task did not finish)",
                    t.name, t.kind
                ));
            }
        }
        let mut report = report.clone();
        for (task, key, value) in std::mem::take(&mut self.products) {
            if let Some(t) = report.tasks.iter_mut().find(|t| t.name == task) {
                t.details.insert(key, value.into());
            }
        }
        self.reports.push(report);
    }
}

/// The one-line summary of a task for the plan style.
fn summary(o: &TaskOutcome) -> String {
    let took = format_duration(o.duration_ms);
    let cut = o
        .cutoff
        .as_ref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    match o.status {
        TaskStatus::DryRun => match o.matched {
            Some(n) => format!("dry run: would delete {n} rows{cut}, in {took}"),
            None => format!("dry run, in {took}"),
        },
        TaskStatus::Unchanged => format!("unchanged, in {took}"),
        TaskStatus::Created => format!("created, in {took}"),
        TaskStatus::Updated => format!("updated, in {took}"),
        TaskStatus::Interrupted => format!(
            "interrupted after deleting {} rows{cut}, in {took}",
            o.deleted.unwrap_or(0)
        ),
        _ => match o.deleted {
            Some(n) => format!("done: deleted {n} rows{cut} in {took}"),
            None => format!("done in {took}"),
        },
    }
}

fn format_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

/// Print problems found in job files (stderr).
pub fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        err_line(&d.to_string());
    }
}

/// The result of validating one file, for `pi-manage validate`.
#[derive(Debug, Serialize)]
pub struct Validation {
    pub file: String,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<usize>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Print validation results: text (ok lines on stdout, problems on stderr) or JSON.
pub fn print_validations(results: &[Validation], format: Format, quiet: bool) {
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(results).expect("serialises");
            out_line(&text);
        }
        Format::Text => {
            for r in results {
                print_diagnostics(&r.diagnostics);
                if r.valid && !quiet {
                    out_line(&format!(
                        "{}: ok (job '{}', {} task{})",
                        r.file,
                        r.job.as_deref().unwrap_or(""),
                        r.tasks.unwrap_or(0),
                        if r.tasks == Some(1) { "" } else { "s" }
                    ));
                }
            }
        }
    }
}

/// Write a line to stdout. A closed stdout (a reader that went away, `| head`) or any other
/// write error never panics and never stops the work: the report is simply not shown, and
/// the exit code still says how the work went. Everything we print goes through here or
/// [`err_line`] (`println!` panics on a closed pipe, so clippy.toml disallows it).
pub fn out_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
}

/// Write text to stdout as is; errors are ignored as in [`out_line`].
pub fn out_text(text: &str) {
    let _ = write_stdout(text);
}

/// Write text to stdout and say whether it arrived: for commands whose output is their
/// product (an export, the schema), so a full disk is an error and a closed pipe is known.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|_| out.flush())
}

/// The exit code of a command whose stdout is its product: 0 when it was written; 141 (the
/// shell's code for SIGPIPE, as `audit dump`) when the reader went away; 1, with the
/// error on stderr, when writing failed otherwise (a full disk).
pub fn product_exit_code(command: &str, written: std::io::Result<()>) -> i32 {
    match written {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 141,
        Err(e) => {
            print_error(&format!("{command}: cannot write the output: {e}"));
            1
        }
    }
}

/// Write a line to stderr, never panicking (see [`out_line`]).
pub fn err_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}").and_then(|_| err.flush());
}

/// Write text to stderr as is (a prompt), never panicking.
pub fn err_text(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|_| err.flush());
}

/// Print text to stdout as is (the schema).
pub fn print_raw(text: &str) {
    out_text(text);
}

/// Print a line to stdout (plain command output such as privacyIDEA's messages).
pub fn print_line(line: &str) {
    out_line(line);
}

/// Print an error line to stderr (commands that do not run tasks).
pub fn print_error(message: &str) {
    err_line(&format!("pi-manage: {message}"));
}
