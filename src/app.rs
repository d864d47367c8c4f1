//! From parsed command-line arguments to a finished command: resolves what the command
//! needs and dispatches to `commands`. Returns the exit code, or an error `main` renders.

use crate::cli::{
    AuditCommand, ChallengeCommand, Cli, Command, ConfigCommand, OutputFormat, SetupCommand,
};
use crate::commands;
use crate::report::Format;

/// Errors that end a command before or instead of running tasks. Each knows its exit code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Problems were found in input files and already printed.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Settings(#[from] crate::settings::SettingsError),
}

impl AppError {
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Invalid(_) | AppError::Usage(_) | AppError::Settings(_) => 2,
        }
    }
}

/// Global options every command sees.
#[derive(Debug, Clone)]
pub struct Globals {
    pub picfg: Option<std::path::PathBuf>,
    pub quiet: bool,
    pub format: Format,
}

pub fn run(cli: Cli) -> Result<i32, AppError> {
    let globals = Globals {
        picfg: cli.picfg,
        quiet: cli.quiet,
        format: match cli.output {
            OutputFormat::Text => Format::Text,
            OutputFormat::Json => Format::Json,
        },
    };
    match cli.command {
        Command::Run(args) => commands::run::run(&globals, &args),
        Command::Validate(args) => commands::validate::run(&globals, &args),
        Command::Schema => commands::schema::run(),
        Command::Audit(AuditCommand::Rotate(args)) | Command::RotateAudit(args) => {
            commands::audit::rotate(&globals, &args)
        }
        Command::Config(ConfigCommand::Challenge(ChallengeCommand::Cleanup(args))) => {
            commands::challenge::cleanup(&globals, &args)
        }
        Command::Setup(SetupCommand::CreateTables(args)) | Command::CreateTables(args) => {
            commands::setup::create_tables(&globals, &args)
        }
    }
}
