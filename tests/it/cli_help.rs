//! The command tree's help: every command and every argument says what it is, and the global
//! options are listed apart from each command's own.

use clap::CommandFactory;
use pi_manage::cli::{Cli, GLOBAL_OPTIONS};

/// Every (sub)command path with its built command, depth first, hidden ones included: a
/// deprecated alias still shows its help when asked for it.
fn all_commands() -> Vec<(String, clap::Command)> {
    fn walk(path: String, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            walk(format!("{path} {}", sub.get_name()), sub, out);
        }
        out.push((path, cmd.clone()));
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = Vec::new();
    walk("pi-manage".into(), &cmd, &mut out);
    out
}

#[test]
fn every_argument_and_option_has_help() {
    let mut missing = Vec::new();
    for (path, cmd) in all_commands() {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if help.trim().is_empty() {
                let name = arg
                    .get_long()
                    .map(|l| format!("--{l}"))
                    .or_else(|| arg.get_short().map(|s| format!("-{s}")))
                    .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
                missing.push(format!("{path}: {name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "arguments without help text:\n{}",
        missing.join("\n")
    );
    // The walk saw the nested commands, not just the top one.
    assert!(all_commands()
        .iter()
        .any(|(p, _)| p == "pi-manage api createtoken"));
}

#[test]
fn every_command_has_a_description() {
    let missing: Vec<String> = all_commands()
        .into_iter()
        .filter(|(_, cmd)| {
            cmd.get_about()
                .is_none_or(|a| a.to_string().trim().is_empty())
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        missing.is_empty(),
        "commands without a description: {missing:?}"
    );
}

#[test]
fn global_options_are_listed_apart_from_a_commands_own() {
    for (path, cmd) in all_commands() {
        for arg in cmd.get_arguments() {
            let heading = arg.get_help_heading();
            if arg.is_global_set() {
                assert_eq!(heading, Some(GLOBAL_OPTIONS), "{path}: {:?}", arg.get_id());
            } else {
                assert_ne!(heading, Some(GLOBAL_OPTIONS), "{path}: {:?}", arg.get_id());
            }
        }
    }
    // And so a command's help shows them under their own heading, after its own options.
    let mut cmd = Cli::command();
    cmd.build();
    let help = cmd
        .find_subcommand_mut("admin")
        .and_then(|c| c.find_subcommand_mut("add"))
        .expect("admin add")
        .render_help()
        .to_string();
    let own = help.find("Options:").expect("own options");
    let global = help
        .find("Global options:")
        .expect("global options heading");
    assert!(own < global, "{help}");
    assert!(help[global..].contains("--picfg"), "{help}");
    assert!(!help[own..global].contains("--picfg"), "{help}");
    assert!(help[own..global].contains("--email"), "{help}");
}
