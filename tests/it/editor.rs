//! The committed schema in an editor: yaml-language-server (the server behind VS Code's YAML
//! extension, Neovim's yamlls and others) over stdio, with `schemas/job.schema.json`
//! associated to `*.yaml`. The example jobs get no diagnostics; a broken job gets the messages
//! in words; completion inside a task offers its fields with their examples.
//!
//! The server is installed from npm into the target directory on first use. Without Node.js
//! or npm the test is skipped with a note, except under `CI=true`, where it fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use pi_manage::tasks::TaskSpec;
use serde_json::{json, Value};

const SERVER_VERSION: &str = "1.19.2";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn skip(why: &str) {
    assert!(
        !in_ci(),
        "{why}, and CI=true requires the editor test to run"
    );
    let _ = writeln!(
        std::io::stderr(),
        "note: editor test SKIPPED: {why} (install Node.js and npm to run it)"
    );
}

/// The server's entry point, installed with npm into the target directory if needed.
fn server() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("yaml-language-server-{SERVER_VERSION}"));
    let bin = dir.join("node_modules/yaml-language-server/bin/yaml-language-server");
    if Command::new("node").arg("--version").output().is_err() {
        skip("node is not installed");
        return None;
    }
    if !bin.exists() {
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(format!("yaml-language-server@{SERVER_VERSION}"))
            .output();
        match out {
            Err(e) => {
                skip(&format!("npm could not be run ({e})"));
                return None;
            }
            Ok(o) if !o.status.success() => {
                skip(&format!(
                    "npm install failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                ));
                return None;
            }
            Ok(_) => {}
        }
    }
    Some(bin)
}

/// A language server over stdio, killed when dropped.
struct Lsp {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
}

impl Lsp {
    fn start(bin: &Path) -> Lsp {
        let mut child = Command::new("node")
            .arg(bin)
            .arg("--stdio")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, incoming) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut length = None;
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.strip_prefix("Content-Length:") {
                    length = v.trim().parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("a Content-Length header")];
            if stdout.read_exact(&mut body).is_err() {
                return;
            }
            if tx.send(serde_json::from_slice(&body).unwrap()).is_err() {
                return;
            }
        });
        Lsp {
            child,
            stdin,
            incoming,
            next_id: 0,
        }
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

const BROKEN: &str = "\
version: 1
name: broken
schedule: '30 2 * *'
tasks:
  - kind: challenge_cleanupp
    chunksize: 10
  - kind: audit_rotate
    older_than: 3 days
  - kind: challenge_cleanup
    chunk_size: 10
  - kind: challenge_cleanup
    
";

#[test]
fn yaml_language_server_validates_and_completes_job_files_with_the_schema() {
    let Some(bin) = server() else { return };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema = repo.join("schemas/job.schema.json");
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo.join("jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 3, "{examples:?}");
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, BROKEN).unwrap();

    let settings = json!({
        "validate": true, "completion": true, "hover": true,
        "schemas": {uri(&schema): ["*.yaml"]},
    });
    let mut lsp = Lsp::start(&bin);
    lsp.request(
        "initialize",
        json!({"processId": std::process::id(), "rootUri": null, "capabilities": {
            "textDocument": {"completion": {"completionItem": {"documentationFormat": ["markdown", "plaintext"]}}},
            "workspace": {"configuration": true},
        }}),
    );
    lsp.notify("initialized", json!({}));
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"yaml": settings}}),
    );
    for path in examples.iter().chain([&broken]) {
        lsp.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(path), "languageId": "yaml", "version": 1,
                   "text": std::fs::read_to_string(path).unwrap()}}),
        );
    }

    // Diagnostics per document (the latest published), and the completion answer, which is
    // asked for once the broken document has been validated.
    let mut diagnostics: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    let mut completion_id = None;
    let mut completion = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while completion.is_none() || diagnostics.len() < examples.len() + 1 {
        assert!(
            Instant::now() < deadline,
            "no answer from yaml-language-server: {diagnostics:#?}"
        );
        let Ok(msg) = lsp.incoming.recv_timeout(Duration::from_millis(500)) else {
            continue;
        };
        match msg["method"].as_str() {
            Some("workspace/configuration") => {
                let answer: Vec<Value> = msg["params"]["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| {
                        if i["section"] == "yaml" {
                            settings.clone()
                        } else {
                            json!({})
                        }
                    })
                    .collect();
                lsp.send(json!({"jsonrpc": "2.0", "id": msg["id"], "result": answer}));
            }
            Some("textDocument/publishDiagnostics") => {
                let u = msg["params"]["uri"].as_str().unwrap().to_string();
                let d = msg["params"]["diagnostics"].as_array().unwrap().clone();
                if u == uri(&broken) && !d.is_empty() && completion_id.is_none() {
                    // Inside the last task, on its empty line.
                    completion_id = Some(lsp.request(
                        "textDocument/completion",
                        json!({"textDocument": {"uri": uri(&broken)},
                               "position": {"line": 11, "character": 4}}),
                    ));
                }
                diagnostics.insert(u, d);
            }
            Some(_) if msg.get("id").is_some() => {
                // Other requests from the server (capability registration, progress).
                lsp.send(json!({"jsonrpc": "2.0", "id": msg["id"], "result": null}));
            }
            _ if msg.get("id").is_some() && msg["id"].as_i64() == completion_id => {
                completion = Some(msg["result"].clone());
            }
            _ => {}
        }
    }

    for path in &examples {
        let d = &diagnostics[&uri(path)];
        assert!(d.is_empty(), "{}: {d:#?}", path.display());
    }
    let broken_diags = &diagnostics[&uri(&broken)];
    let on_line = |line: u64| -> Vec<&str> {
        broken_diags
            .iter()
            .filter(|d| d["range"]["start"]["line"] == line)
            .filter_map(|d| d["message"].as_str())
            .collect()
    };
    // The schedule: 4 fields, explained.
    assert!(
        on_line(2)
            .iter()
            .any(|m| m.contains("cron expression of 5 fields") && m.contains("'30 2 * * *'")),
        "{broken_diags:#?}"
    );
    // The misspelt kind: one message, listing every kind (not the few whose fields fit).
    let kind = on_line(4);
    assert_eq!(kind.len(), 1, "{broken_diags:#?}");
    assert!(
        kind[0].starts_with("Unknown task kind")
            && TaskSpec::KINDS.iter().all(|k| kind[0].contains(k)),
        "{kind:?}"
    );
    // A duration with a space: what to write instead, not a regex.
    let duration = on_line(7);
    assert!(
        duration
            .iter()
            .any(|m| m.contains("whole number and a unit") && m.contains("Write '3 days' as 3d")),
        "{broken_diags:#?}"
    );
    assert!(
        duration.iter().all(|m| !m.contains("^[0-9]")),
        "{duration:?}"
    );
    // A field the kind does not take: the fields it does.
    assert!(
        on_line(9).iter().any(|m| m
            .contains("A 'challenge_cleanup' task takes only these fields besides kind: name, older_than, chunksize")),
        "{broken_diags:#?}"
    );

    let completion = completion.unwrap();
    let items = completion["items"]
        .as_array()
        .or(completion.as_array())
        .expect("completion items");
    let item = |label: &str| {
        items
            .iter()
            .find(|i| i["label"] == label)
            .unwrap_or_else(|| panic!("no completion '{label}' in {items:#?}"))
    };
    for field in ["name", "older_than", "chunksize"] {
        item(field);
    }
    // Its description, in markdown with an example (the client said it renders markdown).
    let doc = &item("older_than")["documentation"];
    assert_eq!(doc["kind"], "markdown", "{doc}");
    let text = doc["value"].as_str().unwrap();
    assert!(
        text.contains("Delete challenges created longer ago than this")
            && text.contains("Example:")
            && text.contains("older_than: 180d"),
        "{text}"
    );
}
