//! `--picfg-python PATH`: for a pi.cfg beyond the subset pi-manage evaluates itself, the
//! operator's own Python interpreter (typically privacyIDEA's venv) executes the file exactly
//! as Flask's `from_pyfile` does, and hands back its UPPERCASE settings as JSON over a pipe.
//!
//! The interpreter runs in isolated mode (`-I`: no PYTHON* variables, no user site, no script
//! directory on the path) with stdin closed and stderr discarded (a traceback or warning may
//! contain values); the file's own writes to stdout go to /dev/null, the result goes to a
//! duplicate of the original stdout. A time limit stops a hanging file. Errors name the
//! Python exception's type and line, never its message (it may contain values).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::value::PyValue;
use super::PiCfgError;

/// How long the interpreter may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);

/// The largest result read back.
const MAX_OUTPUT: u64 = 16 << 20;

/// Executes the file as Flask's `Config.from_pyfile` and `from_object` do, and prints
/// `{"settings": [[name, value]...], "skipped": [[name, type]...]}` or
/// `{"error": type, "line": n}`. Values are tagged so tuples, bytes and non-string dict keys
/// survive JSON.
const SCRIPT: &str = r#"
import json, os, sys, types
path = sys.argv[1]
out = os.fdopen(os.dup(1), "w", encoding="utf-8")
null = os.open(os.devnull, os.O_WRONLY)
os.dup2(null, 1)
sys.stdout = open(os.devnull, "w")

def enc(v, depth=0):
    if depth > 100:
        raise TypeError("too deep")
    if v is None:
        return ["n"]
    if isinstance(v, bool):
        return ["b", v]
    if isinstance(v, int):
        if -2**63 <= v < 2**63:
            return ["i", int(v)]
        raise TypeError("int")
    if isinstance(v, float):
        return ["f", repr(float(v))]
    if isinstance(v, str):
        return ["s", str(v)]
    if isinstance(v, bytes):
        return ["y", bytes(v).hex()]
    if isinstance(v, list):
        return ["l", [enc(x, depth + 1) for x in v]]
    if isinstance(v, tuple):
        return ["t", [enc(x, depth + 1) for x in v]]
    if isinstance(v, dict):
        return ["d", [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]]
    raise TypeError("unsupported")

d = types.ModuleType("config")
d.__file__ = path
try:
    with open(path, mode="rb") as f:
        exec(compile(f.read(), path, "exec"), d.__dict__)
except BaseException as e:
    line = e.lineno if isinstance(e, SyntaxError) else None
    tb = e.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    result = {"error": type(e).__name__, "line": line}
else:
    result = {"settings": [], "skipped": []}
    for key in dir(d):
        if key.isupper():
            value = getattr(d, key)
            try:
                result["settings"].append([key, enc(value)])
            except Exception:
                result["skipped"].append([key, type(value).__name__])
out.write(json.dumps(result))
out.flush()
"#;

/// What the interpreter handed back.
#[derive(Debug)]
pub struct Taken {
    pub settings: Vec<(String, PyValue)>,
    /// Settings left out: name and Python type name.
    pub skipped: Vec<(String, String)>,
}

fn error(message: String) -> PiCfgError {
    PiCfgError::Python(message)
}

pub fn run(path: &Path, interpreter: &Path, limit: Duration) -> Result<Taken, PiCfgError> {
    let shown = path.display();
    let python = interpreter.display();
    let mut child = Command::new(interpreter)
        .arg("-I")
        .arg("-c")
        .arg(SCRIPT)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| error(format!("--picfg-python: cannot run {python}: {e}")))?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = (&mut stdout)
            .take(MAX_OUTPUT)
            .read_to_end(&mut buf)
            .map(|_| buf);
        let _ = tx.send(r);
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error(format!(
                    "{shown}: {python} did not finish executing the file within {} s and was stopped (--picfg-python)",
                    limit.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(error(format!("--picfg-python: waiting for {python}: {e}"))),
        }
    };
    // A process the file started may still hold the pipe open: wait at most until the deadline.
    let remaining = deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(200);
    let output = match rx.recv_timeout(remaining) {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => return Err(error(format!("--picfg-python: reading from {python}: {e}"))),
        Err(_) => {
            return Err(error(format!(
                "{shown}: {python} finished but its output did not end (a process started by the file keeps it open) (--picfg-python)"
            )))
        }
    };
    let doc: serde_json::Value = serde_json::from_slice(&output).map_err(|_| {
        error(format!(
            "{shown}: {python} exited ({status}) without a result; is it a Python 3 interpreter? (--picfg-python)"
        ))
    })?;
    if let Some(kind) = doc.get("error") {
        let kind = kind.as_str().unwrap_or("an exception");
        let at = match doc.get("line").and_then(serde_json::Value::as_u64) {
            Some(line) => format!("{shown}:{line}"),
            None => shown.to_string(),
        };
        return Err(error(format!(
            "{at}: executing the file with {python} failed with {kind} (the exception's message is not shown: it may contain secrets) (--picfg-python)"
        )));
    }
    let bad = || {
        error(format!(
            "{shown}: {python} returned a malformed result (--picfg-python)"
        ))
    };
    let mut settings = Vec::new();
    for pair in doc["settings"].as_array().ok_or_else(bad)? {
        let name = pair[0].as_str().ok_or_else(bad)?;
        settings.push((name.to_string(), decode(&pair[1]).ok_or_else(bad)?));
    }
    let mut skipped = Vec::new();
    for pair in doc["skipped"].as_array().ok_or_else(bad)? {
        let (Some(name), Some(ty)) = (pair[0].as_str(), pair[1].as_str()) else {
            return Err(bad());
        };
        skipped.push((name.to_string(), ty.to_string()));
    }
    Ok(Taken { settings, skipped })
}

/// A tagged value from the script.
fn decode(v: &serde_json::Value) -> Option<PyValue> {
    let tag = v.get(0)?.as_str()?;
    let body = v.get(1);
    let items = |b: Option<&serde_json::Value>| -> Option<Vec<PyValue>> {
        b?.as_array()?.iter().map(decode).collect()
    };
    Some(match tag {
        "n" => PyValue::None,
        "b" => PyValue::Bool(body?.as_bool()?),
        "i" => PyValue::Int(body?.as_i64()?),
        "f" => PyValue::Float(body?.as_str()?.parse().ok()?),
        "s" => PyValue::Str(body?.as_str()?.to_string()),
        "y" => PyValue::Bytes(hex::decode(body?.as_str()?).ok()?),
        "l" => PyValue::List(items(body)?),
        "t" => PyValue::Tuple(items(body)?),
        "d" => PyValue::Dict(
            body?
                .as_array()?
                .iter()
                .map(|pair| Some((decode(pair.get(0)?)?, decode(pair.get(1)?)?)))
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}
