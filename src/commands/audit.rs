//! `pi-manage audit rotate` (and the hidden `rotate_audit`): privacyIDEA's flags, built into
//! one `audit_rotate` task. Mode precedence as privacyIDEA: `--config`, then `--age`, then
//! the watermarks. `audit verify`, and `audit dump` (privacyIDEA's CSV, written here).

use crate::cli::{AuditDumpArgs, AuditRotateArgs, AuditVerifyArgs};
use crate::commands::context::{AppError, Globals};
use crate::crypto::audit_sign::AuditVerifier;
use crate::db::OpenOptions;
use crate::job::model::{AuditRotate, Duration, TaskSpec, Watermark};
use crate::tasks::audit_verify::AuditVerifyTask;
use crate::tasks::{Databases, Task, TaskError};

pub fn rotate(globals: &Globals, args: &AuditRotateArgs) -> Result<i32, AppError> {
    let mut spec = AuditRotate {
        name: Some("audit rotate".into()),
        chunksize: args.chunksize,
        ..Default::default()
    };
    if let Some(rules) = &args.config {
        spec.rules_file = Some(rules.clone());
    } else if args.age < 0 {
        // privacyIDEA deletes every entry for a negative age (a cut-off in the future).
        return Err(AppError::Usage(format!(
            "--age {}: a negative age would delete every audit entry; give a number of days from 1 to {} (or leave --age out to rotate by the watermarks)",
            args.age,
            crate::job::duration::MAX_AGE_DAYS
        )));
    } else if args.age > 0 {
        let days = Duration::try_from_days(args.age.unsigned_abs())
            .map_err(|e| AppError::Usage(format!("--age {}: {e}", args.age)))?;
        spec.older_than = Some(days);
    } else {
        spec.watermark = Some(Watermark {
            high: args.highwatermark,
            low: args.lowwatermark,
        });
    }
    super::run_single_task(
        globals,
        "audit rotate",
        TaskSpec::AuditRotate(spec),
        args.dryrun,
    )
}

/// `audit verify [--since DURATION]`: check every entry's signature.
pub fn verify(globals: &Globals, args: &AuditVerifyArgs) -> Result<i32, AppError> {
    let since = match &args.since {
        Some(text) => {
            Some(Duration::parse(text).map_err(|e| AppError::Usage(format!("--since: {e}")))?)
        }
        None => None,
    };
    let task = Task::new(AuditVerifyTask {
        name: "audit verify".into(),
        since,
        public_key: args.public_key.clone(),
        allow_unsigned: args.allow_unsigned,
        page_rows: crate::tasks::audit_verify::PAGE_ROWS,
        threads: args.threads,
    });
    super::run_task(globals, "audit verify", task, false)
}

/// `audit dump [-t DELTA] [-f FILE]`: privacyIDEA's CSV to stdout or, atomically, to a file.
/// Nothing else is printed on success; errors go to stderr.
pub fn dump(globals: &Globals, args: &AuditDumpArgs) -> Result<i32, AppError> {
    use std::io::Write;

    use crate::audit_dump::output::{self, Commit, Compression};
    use crate::audit_dump::{DumpError, DumpOptions, Timelimit, ROUND_ROWS};
    use crate::clock::{Clock, SystemClock};
    use crate::interrupt::Interrupt;
    use crate::report;

    let invalid = |e: crate::audit_dump::TimelimitError| {
        AppError::Usage(format!("Invalid value for '-t' / '--timelimit': {e}"))
    };
    // privacyIDEA ignores an empty -t.
    let timelimit = match args.timelimit.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(Timelimit::parse(t).map_err(invalid)?),
        None => None,
    };
    let since = match timelimit {
        Some(t) => t.cutoff(SystemClock.now_local()).map_err(|_| {
            AppError::Usage(format!(
                "Invalid value for '-t' / '--timelimit': {} reaches outside the calendar",
                args.timelimit.as_deref().unwrap_or_default()
            ))
        })?,
        None => None,
    };
    let settings = super::installation(globals)?;
    let fail = |message: String| {
        report::print_error(&format!("audit dump: {message}"));
        Ok(1)
    };
    let verifier = if settings.audit_no_sign {
        None
    } else {
        let Some(path) = &settings.audit_key_public else {
            return fail("PI_AUDIT_KEY_PUBLIC must name a file containing the public key to verify audit entries with.".into());
        };
        let pem = match crate::input_file::read_text(path, crate::input_file::MAX_SECRET) {
            Ok(p) => p,
            Err(e) => {
                return fail(format!(
                    "cannot read the public audit key {}: {e}",
                    path.display()
                ))
            }
        };
        match AuditVerifier::from_public_pem(&pem) {
            Ok(v) => Some(v),
            Err(e) => return fail(format!("{}: {e}", path.display())),
        }
    };
    let mut databases = Databases::new(
        settings.database.clone(),
        settings.audit_database.clone(),
        OpenOptions::default(),
    );
    let conn = match databases.audit() {
        Ok(c) => c,
        Err(e) => {
            report::print_error(&format!("audit dump: {e}"));
            return Ok(if TaskError::from(e).is_connect() {
                3
            } else {
                1
            });
        }
    };
    let opts = DumpOptions {
        since,
        verifier,
        round_rows: ROUND_ROWS,
    };
    let interrupt = Interrupt::global();
    let to_stdout = args
        .filename
        .as_deref()
        .is_none_or(|f| f.as_os_str() == "-");
    let result = if to_stdout {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
        crate::audit_dump::dump(conn, &opts, &interrupt, &mut out).and_then(|stats| {
            out.flush().map_err(DumpError::Write)?;
            Ok(stats)
        })
    } else {
        let dest = args.filename.as_deref().expect("a file name");
        output::write_file(dest, Compression::None, Commit::ReplaceUnlessEmpty, |w| {
            crate::audit_dump::dump(conn, &opts, &interrupt, w)
        })
        .map(|w| w.stats)
    };
    match result {
        Ok(stats) => Ok(stats.interrupted.map_or(0, crate::interrupt::exit_code)),
        // A reader that went away (`| head`): stop quietly, with the status of SIGPIPE.
        Err(DumpError::Write(e)) if to_stdout && e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(141)
        }
        Err(e) => {
            let code = match &e {
                DumpError::Db(d) if TaskError::from(d.clone()).is_connect() => 3,
                _ => 1,
            };
            report::print_error(&format!("audit dump: {e}"));
            Ok(code)
        }
    }
}
