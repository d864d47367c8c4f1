//! From parsed command-line arguments to a finished command: resolves what the command
//! needs and dispatches to `commands`. Returns the exit code, or an error `main` renders.

use crate::cli::{
    AdminCommand, ApiCommand, AuditCommand, AuthcacheCommand, AuthlogCommand, ChallengeCommand,
    Cli, Command, ConfigCommand, DbCommand, MetricsCommand, OutputFormat, RememberedDeviceCommand,
    SetupCommand, UsercacheCommand,
};
use crate::commands::{self, AppError, Globals};
use crate::report::Format;
use crate::secret_input::SecretSource;

pub fn run(cli: Cli) -> Result<i32, AppError> {
    let globals = Globals {
        picfg: cli.picfg,
        picfg_python: cli.picfg_python.filter(|p| !p.as_os_str().is_empty()),
        quiet: cli.quiet,
        format: match cli.output {
            OutputFormat::Text => Format::Text,
            OutputFormat::Json => Format::Json,
        },
        enckey_passphrase: match (cli.enckey_passphrase_file, cli.enckey_passphrase_env) {
            (Some(f), _) => Some(SecretSource::File(f)),
            (None, Some(v)) => Some(SecretSource::Env(v)),
            (None, None) => None,
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
        Command::Config(ConfigCommand::Policy(cmd)) | Command::Policy(cmd) => {
            commands::policy::policy(&globals, &cmd)
        }
        Command::Config(ConfigCommand::Export(args)) => commands::policy::export(&globals, &args),
        Command::Config(ConfigCommand::Import(args)) => commands::policy::import(&globals, &args),
        Command::Setup(SetupCommand::CreateTables(args)) | Command::CreateTables(args) => {
            commands::setup::create_tables(&globals, &args)
        }
        Command::Setup(SetupCommand::CreateEnckey(args)) | Command::CreateEnckey(args) => {
            commands::setup::create_enckey(&globals, &args)
        }
        Command::Setup(SetupCommand::EncryptEnckey(args)) | Command::EncryptEnckey(args) => {
            commands::setup::encrypt_enckey(&globals, &args)
        }
        Command::Setup(SetupCommand::CreateAuditKeys(args)) | Command::CreateAuditKeys(args) => {
            commands::setup::create_audit_keys(&globals, &args)
        }
        Command::Audit(AuditCommand::Verify(args)) => commands::audit::verify(&globals, &args),
        Command::Audit(AuditCommand::Dump(args)) => commands::audit::dump(&globals, &args),
        Command::Admin(AdminCommand::Add(args)) => commands::admin::add(&globals, &args),
        Command::Admin(AdminCommand::Change(args)) => commands::admin::change(&globals, &args),
        Command::Admin(AdminCommand::List) => commands::admin::list(&globals),
        Command::Admin(AdminCommand::Delete(args)) => commands::admin::delete(&globals, &args),
        Command::Api(ApiCommand::Createtoken(args)) => commands::api::createtoken(&globals, &args),
        Command::Schedule(args) => commands::schedule::run(&globals, &args),
        Command::History(args) => commands::schedule::history(&globals, &args),
        Command::Db(DbCommand::Current) => commands::db::current(&globals),
        Command::Db(DbCommand::Check) => commands::db::check(&globals),
        Command::Setup(SetupCommand::DropTables(args)) | Command::DropTables(args) => {
            commands::db::drop_tables(&globals, &args)
        }
        Command::Backup(cmd) => commands::backup::run(&globals, cmd),
        Command::Authlog(AuthlogCommand::Cleanup(args)) => {
            commands::authlog::cleanup(&globals, &args)
        }
        Command::Config(ConfigCommand::Authcache(AuthcacheCommand::Cleanup(args)))
        | Command::Authcache(AuthcacheCommand::Cleanup(args)) => {
            commands::authcache::cleanup(&globals, &args)
        }
        Command::Config(ConfigCommand::Metrics(MetricsCommand::Cleanup(args))) => {
            commands::metrics::cleanup(&globals, &args)
        }
        Command::Config(ConfigCommand::RememberedDevice(RememberedDeviceCommand::Cleanup(
            args,
        ))) => commands::remembered_device::cleanup(&globals, &args),
        Command::Usercache(UsercacheCommand::Cleanup(args)) => {
            commands::usercache::cleanup(&globals, &args)
        }
        Command::Conditionalaccess(cmd) => commands::conditional_access::run(&globals, cmd),
        Command::Periodic(cmd) => commands::periodic::run(&globals, cmd),
        Command::Completions(args) => crate::cli_docs::completions(&args),
        Command::Man(args) => crate::cli_docs::man(&args),
    }
}
