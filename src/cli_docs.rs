//! Documentation generated from the clap definitions in `cli`: shell completion scripts
//! (`pi-manage completions SHELL`) and roff man pages (`pi-manage man [--dir DIR]`). Generated,
//! never hand-written, so they cannot drift from what the parser accepts. The Debian package's
//! build step (`dist/deb/assets.sh`) produces its man pages and completions with these commands.
//!
//! This sits beside `cli` and `app` rather than under `commands` because it needs clap's
//! `Command` tree, and nothing below `app` imports clap.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::commands::context::AppError;

/// The name completions are registered for and man pages are titled with.
const BIN_NAME: &str = "pi-manage";

/// Exit status when standard output's reader went away (`| head`), as for SIGPIPE.
const BROKEN_PIPE_STATUS: i32 = 141;

/// `pi-manage completions SHELL`: print the completion script.
pub fn completions(args: &CompletionsArgs) -> Result<i32, AppError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN_NAME, &mut script);
    if args.shell == clap_complete::Shell::Bash {
        script = fix_bash_arm_labels(&script).into_bytes();
    }
    print_bytes(&script)
}

/// clap_complete's bash script (4.6.12) spells the state of a subcommand differently in its
/// dispatch loop (`pi__manage__subcmd__audit`) and in the arms that complete it
/// (`pi__subcmd__manage__subcmd__audit`) when the binary name has a hyphen, so no option of any
/// subcommand would complete (clap-rs/clap#6421). Spell the arms as the loop does; once clap
/// fixes it upstream the mangled spelling no longer occurs and this changes nothing.
fn fix_bash_arm_labels(script: &[u8]) -> String {
    let text = String::from_utf8_lossy(script);
    let mangled = BIN_NAME.replace('-', "__subcmd__");
    let loop_spelling = BIN_NAME.replace('-', "__");
    text.replace(
        &format!("{mangled}__subcmd__"),
        &format!("{loop_spelling}__subcmd__"),
    )
}

/// `pi-manage man [--dir DIR]`: print the top page, or write every page into DIR.
pub fn man(args: &ManArgs) -> Result<i32, AppError> {
    match &args.dir {
        None => {
            let mut page = Vec::new();
            match render(&top_command(), &mut page) {
                Ok(()) => print_bytes(&page),
                Err(e) => failed(&format!("man: rendering the page failed: {e}")),
            }
        }
        Some(dir) => match write_pages(dir) {
            Ok(_) => Ok(0),
            Err(e) => failed(&format!(
                "man: writing pages into {} failed: {e}",
                dir.display()
            )),
        },
    }
}

/// Write `pi-manage.1` and one page per visible subcommand, nested
/// (`pi-manage-audit-rotate.1`), into `dir` (created if missing). Returns the files written.
pub fn write_pages(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    write_tree(top_command(), dir, &mut written)?;
    Ok(written)
}

/// The built command tree: `build` gives every subcommand its display name
/// (`pi-manage-audit-rotate`) and bin name (`pi-manage audit rotate`), which name the pages.
/// clap's own `help` subcommand has no page of its own (`--help` is on every page).
fn top_command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn write_tree(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> io::Result<()> {
    // Hidden subcommands are privacyIDEA's deprecated spellings; their pages would only repeat
    // the ones of the commands they alias.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_tree(sub.clone(), dir, written)?;
    }
    let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_owned();
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    render(&cmd, &mut page)?;
    write_atomically(&path, &page)?;
    written.push(path);
    Ok(())
}

fn render(cmd: &clap::Command, out: &mut Vec<u8>) -> io::Result<()> {
    clap_mangen::Man::new(cmd.clone())
        .manual("pi-manage manual")
        .render(out)
}

/// A page appears under its final name complete or not at all; world-readable like any man page.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

fn print_bytes(bytes: &[u8]) -> Result<i32, AppError> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(BROKEN_PIPE_STATUS),
        Err(e) => failed(&format!("writing to standard output failed: {e}")),
    }
}

/// An I/O failure: said once on stderr, exit status 1.
fn failed(message: &str) -> Result<i32, AppError> {
    crate::report::print_error(message);
    Ok(1)
}
