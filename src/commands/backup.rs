//! `pi-manage backup create|verify|restore`: privacyIDEA's backup commands (create and verify
//! run as one-task jobs through the executor; restore is a command of its own, since it
//! works from the archive's pi.cfg rather than the installation's).

use std::io::{BufRead, IsTerminal, Write};

use serde::Serialize;

use crate::backup::restore::{self, RestoreOptions};
use crate::backup::{self, ByteProgress, Report};
use crate::cli::{
    BackupCommand, BackupCreateArgs, BackupFormatArg, BackupRestoreArgs, BackupVerifyArgs,
};
use crate::clock::SystemClock;
use crate::commands::context::{AppError, Globals};
use crate::db::OpenOptions;
use crate::dburl::DbUrl;
use crate::executor::{self, RunOptions, Runtime};
use crate::interrupt::Interrupt;
use crate::job::model::TaskSpec;
use crate::report::{self, Format, Reporter, Style};
use crate::settings::Settings;
use crate::tasks::backup::{ArchiveFormat, Backup};
use crate::tasks::backup_verify::{BackupVerifyTask, Target};
use crate::tasks::{Task, TaskOutput};

pub fn run(globals: &Globals, cmd: BackupCommand) -> Result<i32, AppError> {
    match cmd {
        BackupCommand::Create(a) => create(globals, &a),
        BackupCommand::Verify(a) => verify(globals, &a),
        BackupCommand::Restore(a) => restore(globals, &a),
    }
}

/// `backup create [-d DIR] [-c DIR] [-r DIR] [-e] [--format tar.zst|tar.xz|tgz]`.
fn create(globals: &Globals, a: &BackupCreateArgs) -> Result<i32, AppError> {
    let spec = Backup {
        name: Some("backup create".into()),
        directory: Some(a.directory.clone()),
        config_dir: a.config_dir.clone(),
        radius_dir: a.radius_dir.clone(),
        include_enckey: a.enckey,
        format: match a.format {
            BackupFormatArg::TarZst => ArchiveFormat::TarZst,
            BackupFormatArg::TarXz => ArchiveFormat::TarXz,
            BackupFormatArg::Tgz => ArchiveFormat::Tgz,
        },
        compression_level: a.level,
        retention: None,
    };
    super::run_single_task(globals, "backup create", TaskSpec::Backup(spec), a.dry_run)
}

/// `backup verify FILE`: needs no installation, so it runs without a pi.cfg too.
fn verify(globals: &Globals, a: &BackupVerifyArgs) -> Result<i32, AppError> {
    let task = Task::new(BackupVerifyTask {
        name: "backup verify".into(),
        target: Target::File(backup::absolute(&a.file)),
    });
    let settings = match super::installation(globals) {
        Ok(s) => s,
        Err(_) if globals.picfg.is_none() => {
            Settings::for_database(DbUrl::parse("sqlite://").expect("static url"))
        }
        Err(e) => return Err(e),
    };
    let mut reporter = Reporter::new(globals.format, Style::Peer, globals.quiet);
    let rt = Runtime {
        clock: &SystemClock,
        interrupt: &Interrupt::global(),
        open: OpenOptions::default(),
    };
    executor::run_tasks(
        "backup verify",
        "",
        &[task],
        &settings,
        &RunOptions::default(),
        &rt,
        &mut reporter,
    );
    reporter.finish();
    Ok(executor::exit_code(&reporter.reports))
}

/// The command's lines, shown as they come and kept for `--output json`.
struct CommandReport<'a> {
    reporter: &'a mut Reporter,
    lines: Vec<String>,
}

impl Report for CommandReport<'_> {
    fn say(&mut self, line: String) {
        self.reporter.message(&line);
        self.lines.push(line);
    }
    fn progress(&mut self, label: &str, total: Option<u64>) -> Box<dyn ByteProgress> {
        self.reporter.byte_progress(label, total)
    }
}

/// Ask a yes/no question on the terminal.
fn ask(question: &str) -> bool {
    crate::report::err_text(&format!("{question} [y/N] "));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// `backup restore FILE [--keep-db-uri] [--target-dir DIR] [--yes]`.
fn restore(globals: &Globals, a: &BackupRestoreArgs) -> Result<i32, AppError> {
    let mut reporter = Reporter::new(globals.format, Style::Peer, globals.quiet);
    let interrupt = Interrupt::global();
    let mut asker = ask;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let opts = RestoreOptions {
        archive: backup::absolute(&a.file),
        keep_db_uri: a.keep_db_uri,
        target_dir: a.target_dir.clone(),
        yes: a.yes,
        confirm: if interactive { Some(&mut asker) } else { None },
        open: OpenOptions::default(),
        interrupt: &interrupt,
    };
    let mut rep = CommandReport {
        reporter: &mut reporter,
        lines: Vec::new(),
    };
    let result = restore::restore(opts, &mut rep);
    let lines = rep.lines;
    let code = match &result {
        Ok(_) => 0,
        Err(e) => e.exit_code(),
    };
    if globals.format == Format::Json {
        #[derive(Serialize)]
        struct Out<'a> {
            command: &'static str,
            archive: String,
            status: &'static str,
            messages: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            restored_files: Option<Vec<String>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            database: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            enckey_restored: Option<bool>,
            exit_code: i32,
        }
        let out = Out {
            command: "backup restore",
            archive: a.file.display().to_string(),
            status: if result.is_ok() { "ok" } else { "failed" },
            messages: &lines,
            error: result.as_ref().err().map(|e| e.message.clone()),
            restored_files: result
                .as_ref()
                .ok()
                .map(|r| r.files.iter().map(|p| p.display().to_string()).collect()),
            database: result.as_ref().ok().map(|r| r.database.clone()),
            enckey_restored: result.as_ref().ok().map(|r| !r.enckey.is_empty()),
            exit_code: code,
        };
        report::print_raw(&format!(
            "{}\n",
            serde_json::to_string_pretty(&out).expect("serialises")
        ));
    } else if let Err(e) = &result {
        if !e.message.is_empty() {
            report::print_error(&e.message);
        }
    }
    Ok(code)
}
