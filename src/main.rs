//! The `pi-manage` binary: parse arguments, run the command, print an error once, and map
//! it to the exit code (0 ok, 1 task failed, 2 invalid input/usage, 3 could not connect,
//! 130/143 interrupted).

use clap::Parser;

use pi_manage::cli::{normalize_args, Cli};

fn main() {
    let cli = Cli::parse_from(normalize_args(std::env::args_os()));
    let code = match pi_manage::app::run(cli) {
        Ok(code) => code,
        Err(e) => {
            pi_manage::report::err_line(&format!("pi-manage: {e}"));
            e.exit_code()
        }
    };
    std::process::exit(code);
}
