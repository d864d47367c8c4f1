//! Reading secrets (passwords, passphrases) from where an operator keeps them: a file, an
//! environment variable, or a prompt on the terminal — never from a job file, and on the
//! command line only where privacyIDEA itself offers it.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::secret::Secret;

/// Where to read a secret from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// A file whose content, without one trailing newline, is the secret.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// Ask on the terminal (hidden input), optionally twice to confirm.
    Prompt { label: String, confirm: bool },
    /// Given on the command line (privacyIDEA's `-p`).
    Given(Secret),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretInputError {
    #[error("cannot read the password file {path}: {source}")]
    File {
        path: PathBuf,
        source: crate::input_file::InputFileError,
    },
    #[error("the password file {0} is empty")]
    EmptyFile(PathBuf),
    #[error("the environment variable {0} is not set or empty")]
    Env(String),
    #[error("no terminal to ask for the {0} on; give it with --password-file or --password-env")]
    NoTerminal(String),
    #[error("the two entries do not match")]
    Mismatch,
    #[error("reading the {0} failed: {1}")]
    Prompt(String, std::io::Error),
}

impl SecretSource {
    pub fn read(&self) -> Result<Secret, SecretInputError> {
        match self {
            SecretSource::Given(s) => Ok(s.clone()),
            SecretSource::File(path) => {
                let text = crate::input_file::read_text(path, crate::input_file::MAX_SECRET)
                    .map_err(|source| SecretInputError::File {
                        path: path.clone(),
                        source,
                    })?;
                let value = text
                    .strip_suffix("\r\n")
                    .or_else(|| text.strip_suffix('\n'))
                    .unwrap_or(&text);
                if value.is_empty() {
                    return Err(SecretInputError::EmptyFile(path.clone()));
                }
                Ok(Secret::new(value))
            }
            SecretSource::Env(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| SecretInputError::Env(var.clone())),
            SecretSource::Prompt { label, confirm } => {
                if !std::io::stdin().is_terminal() {
                    return Err(SecretInputError::NoTerminal(label.clone()));
                }
                let ask = |prompt: &str| {
                    rpassword::prompt_password(prompt)
                        .map_err(|e| SecretInputError::Prompt(label.clone(), e))
                };
                let first = ask(&format!("{}: ", capitalize(label)))?;
                if *confirm {
                    let again = ask("Repeat for confirmation: ")?;
                    if again != first {
                        return Err(SecretInputError::Mismatch);
                    }
                }
                Ok(Secret::new(first))
            }
        }
    }

    /// The source chosen by the usual trio of options: a file, else an environment
    /// variable, else a value given directly, else a prompt.
    /// Whether the secret can be had, checked before a command starts so that a problem is
    /// a usage error (exit 2) rather than a failed task: a prompt needs a terminal, a file
    /// must be a readable regular file within the limit, a variable must be set.
    pub fn check_available(&self) -> Result<(), SecretInputError> {
        match self {
            SecretSource::Prompt { label, .. } if !std::io::stdin().is_terminal() => {
                Err(SecretInputError::NoTerminal(label.clone()))
            }
            SecretSource::Prompt { .. } | SecretSource::Given(_) => Ok(()),
            SecretSource::File(_) | SecretSource::Env(_) => self.read().map(drop),
        }
    }

    pub fn choose(
        file: Option<PathBuf>,
        env: Option<String>,
        given: Option<String>,
        label: &str,
        confirm: bool,
    ) -> SecretSource {
        if let Some(f) = file {
            SecretSource::File(f)
        } else if let Some(e) = env {
            SecretSource::Env(e)
        } else if let Some(g) = given {
            SecretSource::Given(Secret::new(g))
        } else {
            SecretSource::Prompt {
                label: label.to_string(),
                confirm,
            }
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_strips_one_newline_and_env_must_be_set() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\n").unwrap();
        assert_eq!(
            SecretSource::File(p.clone()).read().unwrap().expose(),
            "s3cret"
        );
        std::fs::write(&p, "\n").unwrap();
        assert!(matches!(
            SecretSource::File(p).read(),
            Err(SecretInputError::EmptyFile(_))
        ));
        let e = SecretSource::Env("PIM_TEST_SURELY_UNSET_VAR".into())
            .read()
            .unwrap_err();
        assert!(e.to_string().contains("PIM_TEST_SURELY_UNSET_VAR"));
    }
}
