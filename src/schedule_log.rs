//! The scheduler's log: the report layer of the long-running `pi-manage schedule`. One line
//! per event, human-readable or one JSON object per line (`--log-format json`), with the job,
//! slot, node and run id on every line. Shared by the worker threads, so it locks per line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{SecondsFormat, Utc};
use serde::Serialize;

use crate::db::delete::{DeleteObserver, NoProgress};
use crate::executor::{JobReport, RunOutput};
use crate::scheduler::metrics::SchedulerMetrics;
use crate::tasks::{Task, TaskOutcome, TaskOutput};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// One log event. Empty fields are left out of the JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Event {
    pub level: &'static str,
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// How a run came about (`schedule`, `catch_up`, `takeover`), on `run_started`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    pub message: String,
}

/// The shared log writer.
#[derive(Clone)]
pub struct SchedulerLog {
    format: LogFormat,
    node: String,
    out: Arc<Mutex<()>>,
    /// Folds every event into the scheduler's metrics (`/metrics`, `/healthz`).
    metrics: Option<Arc<SchedulerMetrics>>,
}

impl SchedulerLog {
    pub fn new(format: LogFormat, node: &str) -> Self {
        SchedulerLog {
            format,
            node: node.to_string(),
            out: Arc::new(Mutex::new(())),
            metrics: None,
        }
    }

    /// Also count every event in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<SchedulerMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn log(&self, e: Event) {
        if let Some(m) = &self.metrics {
            m.observe(&e);
        }
        let _guard = self.out.lock();
        let ts = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        let line = match self.format {
            LogFormat::Json => {
                #[derive(Serialize)]
                struct Line<'a> {
                    ts: &'a str,
                    node: &'a str,
                    #[serde(flatten)]
                    e: &'a Event,
                }
                serde_json::to_string(&Line {
                    ts: &ts,
                    node: &self.node,
                    e: &e,
                })
                .unwrap_or_default()
            }
            LogFormat::Text => {
                let mut s = format!("{ts} {:5} ", e.level.to_uppercase());
                if let Some(j) = &e.job {
                    s.push_str(&format!("[{j}"));
                    if let Some(slot) = &e.slot {
                        s.push_str(&format!(" @ {slot}"));
                    }
                    s.push_str("] ");
                }
                if let Some(t) = &e.task {
                    s.push_str(&format!("{t}: "));
                }
                s.push_str(&e.message);
                s
            }
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    pub fn info(
        &self,
        event: &'static str,
        job: Option<&str>,
        slot: Option<&str>,
        message: String,
    ) {
        self.log(Event {
            level: "info",
            event,
            job: job.map(str::to_string),
            slot: slot.map(str::to_string),
            message,
            ..Default::default()
        });
    }

    pub fn warn(
        &self,
        event: &'static str,
        job: Option<&str>,
        slot: Option<&str>,
        message: String,
    ) {
        self.log(Event {
            level: "warn",
            event,
            job: job.map(str::to_string),
            slot: slot.map(str::to_string),
            message,
            ..Default::default()
        });
    }

    /// The output a scheduled run's tasks write to.
    pub fn for_run(&self, job: &str, slot: &str, run_id: &str) -> RunLog {
        RunLog {
            log: self.clone(),
            job: job.to_string(),
            slot: slot.to_string(),
            run_id: run_id.to_string(),
            task: None,
        }
    }
}

/// The log of one run: task lines and outcomes become events carrying the run's context.
pub struct RunLog {
    log: SchedulerLog,
    job: String,
    slot: String,
    run_id: String,
    task: Option<String>,
}

impl RunLog {
    fn event(&self, level: &'static str, event: &'static str, message: String) -> Event {
        Event {
            level,
            event,
            job: Some(self.job.clone()),
            slot: Some(self.slot.clone()),
            run_id: Some(self.run_id.clone()),
            task: self.task.clone(),
            message,
            ..Default::default()
        }
    }
}

impl TaskOutput for RunLog {
    fn message(&mut self, line: &str) {
        let e = self.event("info", "task_output", line.to_string());
        self.log.log(e);
    }

    fn progress(&mut self, _: &str, _: Option<u64>) -> Box<dyn DeleteObserver> {
        Box::new(NoProgress)
    }
}

impl RunOutput for RunLog {
    fn task_started(&mut self, task: &Task) {
        self.task = Some(task.name().to_string());
    }

    fn task_finished(&mut self, o: &TaskOutcome) {
        let mut e = self.event(
            if o.error.is_some() { "error" } else { "info" },
            "task_finished",
            o.error.clone().unwrap_or_else(|| "task finished".into()),
        );
        e.status = serde_json::to_value(o.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string));
        e.duration_ms = Some(o.duration_ms);
        e.rows = o.deleted;
        self.log.log(e);
        self.task = None;
    }

    fn job_finished(&mut self, _report: &JobReport) {}
}
