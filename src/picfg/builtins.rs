//! The fixed allow-list of what a pi.cfg may call or refer to: the modules `os`, `os.path`,
//! `os.environ` and `logging` (their allowed attributes), the builtins `open`, `int`, `str`,
//! `bool`, `float`, `len`, and the `str` methods — and their implementations, with Python's
//! results. Nothing else can be reached.
//!
//! `open(path).read()` reads text only, read-only, from regular files of at most 1 MiB.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::format;
use super::value::{as_num, to_str, Num, PyValue};

pub(crate) type BResult<T> = Result<T, String>;

/// The largest file `open(path).read()` reads.
pub const MAX_READ: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Module {
    Os,
    OsPath,
    Environ,
    Logging,
}

impl Module {
    pub fn name(self) -> &'static str {
        match self {
            Module::Os => "os",
            Module::OsPath => "os.path",
            Module::Environ => "os.environ",
            Module::Logging => "logging",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Getenv,
    EnvironGet,
    Join,
    Exists,
    IsFile,
    IsDir,
    Dirname,
    Basename,
    Abspath,
    Expanduser,
    GetLevelName,
    Open,
    Int,
    Str,
    Bool,
    Float,
    Len,
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::Getenv => "os.getenv",
            Func::EnvironGet => "os.environ.get",
            Func::Join => "os.path.join",
            Func::Exists => "os.path.exists",
            Func::IsFile => "os.path.isfile",
            Func::IsDir => "os.path.isdir",
            Func::Dirname => "os.path.dirname",
            Func::Basename => "os.path.basename",
            Func::Abspath => "os.path.abspath",
            Func::Expanduser => "os.path.expanduser",
            Func::GetLevelName => "logging.getLevelName",
            Func::Open => "open",
            Func::Int => "int",
            Func::Str => "str",
            Func::Bool => "bool",
            Func::Float => "float",
            Func::Len => "len",
        }
    }
}

/// What a module attribute is.
pub(crate) enum Attr {
    Module(Module),
    Func(Func),
    Const(PyValue),
}

/// logging's level names and numbers (`logging._nameToLevel`).
const LEVELS: &[(&str, i64)] = &[
    ("CRITICAL", 50),
    ("FATAL", 50),
    ("ERROR", 40),
    ("WARN", 30),
    ("WARNING", 30),
    ("INFO", 20),
    ("DEBUG", 10),
    ("NOTSET", 0),
];

/// logging's numbers to names (`logging._levelToName`).
const LEVEL_NAMES: &[(i64, &str)] = &[
    (50, "CRITICAL"),
    (40, "ERROR"),
    (30, "WARNING"),
    (20, "INFO"),
    (10, "DEBUG"),
    (0, "NOTSET"),
];

pub(crate) fn module_attr(m: Module, name: &str) -> Option<Attr> {
    Some(match (m, name) {
        (Module::Os, "path") => Attr::Module(Module::OsPath),
        (Module::Os, "environ") => Attr::Module(Module::Environ),
        (Module::Os, "getenv") => Attr::Func(Func::Getenv),
        (Module::Environ, "get") => Attr::Func(Func::EnvironGet),
        (Module::OsPath, "join") => Attr::Func(Func::Join),
        (Module::OsPath, "exists") => Attr::Func(Func::Exists),
        (Module::OsPath, "isfile") => Attr::Func(Func::IsFile),
        (Module::OsPath, "isdir") => Attr::Func(Func::IsDir),
        (Module::OsPath, "dirname") => Attr::Func(Func::Dirname),
        (Module::OsPath, "basename") => Attr::Func(Func::Basename),
        (Module::OsPath, "abspath") => Attr::Func(Func::Abspath),
        (Module::OsPath, "expanduser") => Attr::Func(Func::Expanduser),
        (Module::Logging, "getLevelName") => Attr::Func(Func::GetLevelName),
        (Module::Logging, level) => {
            let (_, n) = LEVELS.iter().find(|(l, _)| *l == level)?;
            Attr::Const(PyValue::Int(*n))
        }
        _ => return None,
    })
}

pub(crate) fn builtin(name: &str) -> Option<Func> {
    Some(match name {
        "open" => Func::Open,
        "int" => Func::Int,
        "str" => Func::Str,
        "bool" => Func::Bool,
        "float" => Func::Float,
        "len" => Func::Len,
        _ => return None,
    })
}

/// Python builtins that exist but are refused (named in the error instead of "not defined").
pub(crate) const REFUSED_BUILTINS: &[&str] = &[
    "print",
    "exec",
    "eval",
    "compile",
    "globals",
    "locals",
    "vars",
    "getattr",
    "setattr",
    "delattr",
    "hasattr",
    "__import__",
    "input",
    "dir",
    "type",
    "range",
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "map",
    "filter",
    "sorted",
    "reversed",
    "min",
    "max",
    "sum",
    "abs",
    "round",
    "repr",
    "hex",
    "oct",
    "bin",
    "chr",
    "ord",
    "format",
    "isinstance",
    "issubclass",
    "any",
    "all",
    "zip",
    "enumerate",
    "iter",
    "next",
    "id",
    "hash",
    "object",
    "super",
    "exit",
    "quit",
    "help",
    "breakpoint",
    "callable",
    "bytes",
    "bytearray",
    "memoryview",
    "divmod",
    "pow",
    "ascii",
    "classmethod",
    "staticmethod",
    "property",
    "complex",
    "slice",
    "__builtins__",
    "__name__",
    "__loader__",
    "__spec__",
];

pub(crate) const STR_METHODS: &[&str] = &[
    "strip",
    "rstrip",
    "lstrip",
    "split",
    "lower",
    "upper",
    "replace",
    "format",
    "startswith",
    "endswith",
];

/// What builtins may look at: the environment and (optionally) the file system.
pub(crate) struct Host<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub files: bool,
}

/// The result of a call.
pub(crate) enum Called {
    Value(PyValue),
    /// `open(path)`: the file is read by `.read()`.
    File(PathBuf),
}

fn arity(f: &str, args: &[PyValue], min: usize, max: usize) -> BResult<()> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            format!("exactly {min}")
        } else if min == 0 {
            format!("at most {max}")
        } else {
            format!("from {min} to {max}")
        };
        return Err(format!(
            "TypeError: {f}() takes {want} argument(s) ({} given)",
            args.len()
        ));
    }
    Ok(())
}

/// Merges keyword arguments into positional ones by parameter name.
fn bind(
    f: &str,
    mut args: Vec<PyValue>,
    kwargs: Vec<(String, PyValue)>,
    params: &[&str],
) -> BResult<Vec<Option<PyValue>>> {
    if args.len() > params.len() {
        return Err(format!(
            "TypeError: {f}() takes at most {} argument(s) ({} given)",
            params.len(),
            args.len()
        ));
    }
    let mut out: Vec<Option<PyValue>> = args.drain(..).map(Some).collect();
    out.resize(params.len(), None);
    for (name, v) in kwargs {
        let Some(k) = params.iter().position(|p| *p == name) else {
            return Err(format!(
                "TypeError: {f}() got an unexpected keyword argument '{name}'"
            ));
        };
        if out[k].is_some() {
            return Err(format!(
                "TypeError: {f}() got multiple values for argument '{name}'"
            ));
        }
        out[k] = Some(v);
    }
    Ok(out)
}

fn want_str<'v>(f: &str, v: &'v PyValue) -> BResult<&'v str> {
    match v {
        PyValue::Str(s) => Ok(s),
        other => Err(format!(
            "TypeError: {f}: expected str, not {}",
            other.type_name()
        )),
    }
}

pub(crate) fn call(
    f: Func,
    args: Vec<PyValue>,
    kwargs: Vec<(String, PyValue)>,
    host: &Host<'_>,
) -> BResult<Called> {
    let name = f.name();
    let no_kwargs = |kw: &[(String, PyValue)]| -> BResult<()> {
        match kw.first() {
            Some((k, _)) => Err(format!(
                "TypeError: {name}() got an unexpected keyword argument '{k}'"
            )),
            None => Ok(()),
        }
    };
    let v = match f {
        Func::Getenv | Func::EnvironGet => {
            let params: &[&str] = &["key", "default"];
            if f == Func::EnvironGet {
                no_kwargs(&kwargs)?;
            }
            let mut a = bind(name, args, kwargs, params)?;
            let key = a[0]
                .take()
                .ok_or_else(|| format!("TypeError: {name}() missing required argument 'key'"))?;
            let key = want_str(name, &key)?;
            match (host.env)(key) {
                Some(v) => PyValue::Str(v),
                None => a[1].take().unwrap_or(PyValue::None),
            }
        }
        Func::Join => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 1, usize::MAX)?;
            let mut out = String::new();
            for (k, a) in args.iter().enumerate() {
                let part = want_str(name, a)?;
                if part.starts_with('/') || k == 0 {
                    out = part.to_string();
                } else if out.is_empty() || out.ends_with('/') {
                    out.push_str(part);
                } else {
                    out.push('/');
                    out.push_str(part);
                }
            }
            PyValue::Str(out)
        }
        Func::Exists | Func::IsFile | Func::IsDir => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 1, 1)?;
            let p = want_str(name, &args[0])?;
            let meta = if host.files && !p.contains('\0') {
                std::fs::metadata(p).ok()
            } else {
                None
            };
            PyValue::Bool(match f {
                Func::Exists => meta.is_some(),
                Func::IsFile => meta.is_some_and(|m| m.is_file()),
                _ => meta.is_some_and(|m| m.is_dir()),
            })
        }
        Func::Dirname => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 1, 1)?;
            let p = want_str(name, &args[0])?;
            let cut = p.rfind('/').map_or(0, |i| i + 1);
            let head = &p[..cut];
            let trimmed = head.trim_end_matches('/');
            PyValue::Str(if trimmed.is_empty() { head } else { trimmed }.to_string())
        }
        Func::Basename => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 1, 1)?;
            let p = want_str(name, &args[0])?;
            PyValue::Str(p[p.rfind('/').map_or(0, |i| i + 1)..].to_string())
        }
        Func::Abspath => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 1, 1)?;
            let p = want_str(name, &args[0])?;
            let full = if p.starts_with('/') {
                p.to_string()
            } else {
                let cwd = std::env::current_dir().map_err(|_| {
                    "OSError: the working directory cannot be determined".to_string()
                })?;
                format!("{}/{p}", cwd.display())
            };
            PyValue::Str(normpath(&full))
        }
        Func::Expanduser => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 1, 1)?;
            let p = want_str(name, &args[0])?;
            // Only `~` and `~/...` (from HOME); `~user` is left as is.
            let home = (host.env)("HOME");
            PyValue::Str(match (p.strip_prefix('~'), home) {
                (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
                    let home = home.trim_end_matches('/');
                    let home = if home.is_empty() { "/" } else { home };
                    if rest.is_empty() {
                        home.to_string()
                    } else if home == "/" {
                        rest.to_string()
                    } else {
                        format!("{home}{rest}")
                    }
                }
                _ => p.to_string(),
            })
        }
        Func::GetLevelName => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 1, 1)?;
            let level = &args[0];
            let by_number = LEVEL_NAMES
                .iter()
                .find(|(n, _)| PyValue::Int(*n) == *level)
                .map(|(_, s)| PyValue::Str((*s).to_string()));
            let by_name = || {
                LEVELS
                    .iter()
                    .find(|(s, _)| matches!(level, PyValue::Str(l) if l == s))
                    .map(|(_, n)| PyValue::Int(*n))
            };
            by_number
                .or_else(by_name)
                .unwrap_or_else(|| PyValue::Str(format!("Level {}", to_str(level))))
        }
        Func::Open => {
            let mut a = bind(
                name,
                args,
                kwargs,
                &["file", "mode", "buffering", "encoding"],
            )?;
            let path = a[0]
                .take()
                .ok_or_else(|| "TypeError: open() missing required argument 'file'".to_string())?;
            let path = want_str(name, &path)?.to_string();
            if let Some(mode) = a[1].take() {
                if !matches!(want_str(name, &mode)?, "r" | "rt" | "tr") {
                    return Err("ValueError: open() in pi.cfg may only read text (mode 'r')".into());
                }
            }
            if a[2].take().is_some() {
                return Err("TypeError: open(): the buffering argument is not supported".into());
            }
            if let Some(enc) = a[3].take() {
                let e = want_str(name, &enc)?
                    .to_ascii_lowercase()
                    .replace(['-', '_'], "");
                if e != "utf8" {
                    return Err("ValueError: open() in pi.cfg reads UTF-8 text only".into());
                }
            }
            if !host.files {
                return Err(
                    "OSError: files cannot be read here (a pi.cfg inside a backup archive)".into(),
                );
            }
            check_readable(Path::new(&path))?;
            return Ok(Called::File(PathBuf::from(path)));
        }
        Func::Int => int(args, kwargs)?,
        Func::Str => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 0, 1)?;
            PyValue::Str(args.first().map(to_str).unwrap_or_default())
        }
        Func::Bool => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 0, 1)?;
            PyValue::Bool(args.first().is_some_and(PyValue::truthy))
        }
        Func::Float => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 0, 1)?;
            match args.first() {
                None => PyValue::Float(0.0),
                Some(v) => match as_num(v) {
                    Some(Num::Int(i)) => PyValue::Float(i as f64),
                    Some(Num::Float(x)) => PyValue::Float(x),
                    None => match v {
                        PyValue::Str(s) => PyValue::Float(parse_float(s).ok_or_else(|| {
                            "ValueError: could not convert string to float".to_string()
                        })?),
                        other => {
                            return Err(format!(
                                "TypeError: float() argument must be a string or a real number, not '{}'",
                                other.type_name()
                            ))
                        }
                    },
                },
            }
        }
        Func::Len => {
            no_kwargs(&kwargs)?;
            arity(name, &args, 1, 1)?;
            let n = match &args[0] {
                PyValue::Str(s) => s.chars().count(),
                PyValue::Bytes(b) => b.len(),
                PyValue::List(v) | PyValue::Tuple(v) => v.len(),
                PyValue::Dict(d) => d.len(),
                other => {
                    return Err(format!(
                        "TypeError: object of type '{}' has no len()",
                        other.type_name()
                    ))
                }
            };
            PyValue::Int(n as i64)
        }
    };
    Ok(Called::Value(v))
}

/// Python's `os.path.normpath` on a POSIX path.
fn normpath(p: &str) -> String {
    let initial = if p.starts_with("//") && !p.starts_with("///") {
        "//"
    } else if p.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if !initial.is_empty() && parts.is_empty() {
                    continue;
                }
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = format!("{initial}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// `open()` checks: an existing regular file no larger than [`MAX_READ`]. Messages name no
/// path (it may come from the environment).
fn check_readable(path: &Path) -> BResult<()> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "FileNotFoundError: No such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "PermissionError: Permission denied".to_string(),
        _ => format!("OSError: the file cannot be opened ({})", e.kind()),
    })?;
    if meta.is_dir() {
        return Err("IsADirectoryError: the path is a directory".into());
    }
    if !meta.is_file() {
        return Err("OSError: pi-manage only reads regular files from pi.cfg".into());
    }
    if meta.len() > MAX_READ {
        return Err(format!(
            "OSError: the file is larger than {} KiB (pi-manage's limit for open() in pi.cfg)",
            MAX_READ / 1024
        ));
    }
    Ok(())
}

/// `open(path).read()`: UTF-8 text with universal newlines, as Python's text mode.
pub(crate) fn read_file(path: &Path, args: &[PyValue]) -> BResult<PyValue> {
    if !args.is_empty() {
        return Err("TypeError: read() with a size is not supported in pi.cfg".into());
    }
    check_readable(path)?;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("OSError: the file cannot be read ({})", e.kind()))?;
    let mut bytes = Vec::new();
    file.take(MAX_READ + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("OSError: the file cannot be read ({})", e.kind()))?;
    if bytes.len() as u64 > MAX_READ {
        return Err(format!(
            "OSError: the file is larger than {} KiB (pi-manage's limit for open() in pi.cfg)",
            MAX_READ / 1024
        ));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| "UnicodeDecodeError: the file is not valid UTF-8".to_string())?;
    Ok(PyValue::Str(text.replace("\r\n", "\n").replace('\r', "\n")))
}

fn int(args: Vec<PyValue>, kwargs: Vec<(String, PyValue)>) -> BResult<PyValue> {
    let mut a = bind("int", args, kwargs, &["x", "base"])?;
    let base = match a[1].take() {
        None => None,
        Some(PyValue::Int(b)) if b == 0 || (2..=36).contains(&b) => Some(b as u32),
        Some(PyValue::Int(_)) => {
            return Err("ValueError: int() base must be >= 2 and <= 36, or 0".into())
        }
        Some(other) => {
            return Err(format!(
                "TypeError: '{}' object cannot be interpreted as an integer",
                other.type_name()
            ))
        }
    };
    let Some(x) = a[0].take() else {
        return Ok(PyValue::Int(0));
    };
    match (&x, base) {
        (PyValue::Str(s), b) => parse_int(s, b.unwrap_or(10))
            .map(PyValue::Int)
            .ok_or_else(|| {
                format!(
                    "ValueError: invalid literal for int() with base {}",
                    b.unwrap_or(10)
                )
            }),
        (_, Some(_)) => Err("TypeError: int() can't convert non-string with explicit base".into()),
        (v, None) => match as_num(v) {
            Some(Num::Int(i)) => Ok(PyValue::Int(i)),
            Some(Num::Float(f)) if f.is_finite() && f.abs() < 9.2e18 => {
                Ok(PyValue::Int(f.trunc() as i64))
            }
            Some(Num::Float(_)) => {
                Err("OverflowError: cannot convert float infinity or NaN to integer".into())
            }
            None => Err(format!(
                "TypeError: int() argument must be a string or a real number, not '{}'",
                v.type_name()
            )),
        },
    }
}

/// Python's `int(text, base)`: surrounding whitespace, a sign, single underscores between
/// digits, and for base 0 (or the matching base) a `0x`/`0o`/`0b` prefix.
fn parse_int(text: &str, base: u32) -> Option<i64> {
    let t = text.trim();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = t.to_ascii_lowercase();
    let prefixed = |p: &str, b: u32| lower.starts_with(p) && (base == b || base == 0);
    let (base, digits) = if prefixed("0x", 16) {
        (16, &t[2..])
    } else if prefixed("0o", 8) {
        (8, &t[2..])
    } else if prefixed("0b", 2) {
        (2, &t[2..])
    } else if base == 0 {
        if t.len() > 1 && t.starts_with('0') && t.chars().any(|c| c != '0' && c != '_') {
            return None;
        }
        (10, t)
    } else {
        (base, t)
    };
    let digits = digits
        .strip_prefix('_')
        .filter(|_| t.len() != digits.len())
        .unwrap_or(digits);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let mag = u64::from_str_radix(&clean, base).ok()?;
    let v = if neg {
        -i128::from(mag)
    } else {
        i128::from(mag)
    };
    i64::try_from(v).ok()
}

/// Python's `float(text)`.
fn parse_float(text: &str) -> Option<f64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse().ok();
    }
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_'))
    {
        return None;
    }
    let chars: Vec<char> = t.chars().collect();
    for (k, c) in chars.iter().enumerate() {
        if *c == '_' {
            let ok = k > 0
                && chars[k - 1].is_ascii_digit()
                && chars.get(k + 1).is_some_and(char::is_ascii_digit);
            if !ok {
                return None;
            }
        }
    }
    let clean: String = chars.into_iter().filter(|c| *c != '_').collect();
    clean.parse().ok()
}

/// A `str` method call.
pub(crate) fn method(
    v: &PyValue,
    name: &str,
    args: Vec<PyValue>,
    kwargs: Vec<(String, PyValue)>,
) -> BResult<PyValue> {
    let PyValue::Str(s) = v else {
        return Err(format!(
            "AttributeError: '{}' object has no attribute '{name}' (pi-manage supports str methods only)",
            v.type_name()
        ));
    };
    let qual = format!("str.{name}");
    let no_kwargs = || -> BResult<()> {
        match kwargs.first() {
            Some((k, _)) => Err(format!(
                "TypeError: {qual}() got an unexpected keyword argument '{k}'"
            )),
            None => Ok(()),
        }
    };
    Ok(match name {
        "strip" | "lstrip" | "rstrip" => {
            no_kwargs()?;
            arity(&qual, &args, 0, 1)?;
            let set: Option<Vec<char>> = match args.first() {
                None | Some(PyValue::None) => None,
                Some(PyValue::Str(c)) => Some(c.chars().collect()),
                Some(other) => {
                    return Err(format!(
                        "TypeError: {name} arg must be None or str, not {}",
                        other.type_name()
                    ))
                }
            };
            let pred = |c: char| match &set {
                None => c.is_whitespace(),
                Some(cs) => cs.contains(&c),
            };
            PyValue::Str(
                match name {
                    "strip" => s.trim_matches(pred),
                    "lstrip" => s.trim_start_matches(pred),
                    _ => s.trim_end_matches(pred),
                }
                .to_string(),
            )
        }
        "split" => {
            let mut a = bind(&qual, args, kwargs, &["sep", "maxsplit"])?;
            let maxsplit = match a[1].take() {
                None => -1,
                Some(PyValue::Int(n)) => n,
                Some(other) => {
                    return Err(format!(
                        "TypeError: '{}' object cannot be interpreted as an integer",
                        other.type_name()
                    ))
                }
            };
            let parts: Vec<String> = match a[0].take() {
                None | Some(PyValue::None) => split_whitespace(s, maxsplit),
                Some(PyValue::Str(sep)) => {
                    if sep.is_empty() {
                        return Err("ValueError: empty separator".into());
                    }
                    if maxsplit < 0 {
                        s.split(sep.as_str()).map(String::from).collect()
                    } else {
                        s.splitn(maxsplit.saturating_add(1) as usize, sep.as_str())
                            .map(String::from)
                            .collect()
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "TypeError: must be str or None, not {}",
                        other.type_name()
                    ))
                }
            };
            PyValue::List(parts.into_iter().map(PyValue::Str).collect())
        }
        "lower" | "upper" => {
            no_kwargs()?;
            arity(&qual, &args, 0, 0)?;
            PyValue::Str(if name == "lower" {
                s.to_lowercase()
            } else {
                s.to_uppercase()
            })
        }
        "replace" => {
            let mut a = bind(&qual, args, kwargs, &["old", "new", "count"])?;
            let (Some(old), Some(new)) = (a[0].take(), a[1].take()) else {
                return Err("TypeError: replace() takes at least 2 arguments".into());
            };
            let old = want_str(&qual, &old)?;
            let new = want_str(&qual, &new)?;
            let count = match a[2].take() {
                None => -1,
                Some(PyValue::Int(n)) => n,
                Some(other) => {
                    return Err(format!(
                        "TypeError: '{}' object cannot be interpreted as an integer",
                        other.type_name()
                    ))
                }
            };
            let estimate = if old.is_empty() {
                s.len() + (s.chars().count() + 1) * new.len()
            } else {
                s.len() / old.len() * new.len() + s.len()
            };
            if estimate > super::ops::MAX_LEN {
                return Err("MemoryError: the result would be too long (pi-manage's limit)".into());
            }
            PyValue::Str(if count < 0 {
                s.replace(old, new)
            } else {
                s.replacen(old, new, count as usize)
            })
        }
        "format" => PyValue::Str(format::str_format(s, &args, &kwargs)?),
        "startswith" | "endswith" => {
            no_kwargs()?;
            arity(&qual, &args, 1, 3)?;
            let chars: Vec<char> = s.chars().collect();
            let len = chars.len() as i64;
            let bound = |k: usize, default: i64| -> BResult<i64> {
                match args.get(k) {
                    None | Some(PyValue::None) => Ok(default),
                    Some(PyValue::Int(i)) => Ok(if *i < 0 {
                        (i + len).max(0)
                    } else {
                        (*i).min(len)
                    }),
                    Some(_) => Err("TypeError: slice indices must be integers or None".to_string()),
                }
            };
            let (start, end) = (bound(1, 0)?, bound(2, len)?);
            let hay: String = if start <= end {
                chars[start as usize..end as usize].iter().collect()
            } else {
                String::new()
            };
            let candidates: Vec<&PyValue> = match &args[0] {
                PyValue::Tuple(items) => items.iter().collect(),
                other => vec![other],
            };
            let mut found = false;
            for c in candidates {
                let PyValue::Str(c) = c else {
                    return Err(format!(
                        "TypeError: {name} first arg must be str or a tuple of str, not {}",
                        c.type_name()
                    ));
                };
                if start > end {
                    continue;
                }
                found |= if name == "startswith" {
                    hay.starts_with(c.as_str())
                } else {
                    hay.ends_with(c.as_str())
                };
            }
            PyValue::Bool(found)
        }
        _ => {
            return Err(format!(
                "AttributeError: the str method '{name}' is not supported in pi.cfg"
            ))
        }
    })
}

/// `str.split()` without a separator: runs of whitespace, none at the ends.
fn split_whitespace(s: &str, maxsplit: i64) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if maxsplit >= 0 && out.len() as i64 == maxsplit {
            out.push(rest.to_string());
            break;
        }
        match rest.find(char::is_whitespace) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start();
            }
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> PyValue {
        PyValue::Str(t.into())
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn value(f: Func, args: Vec<PyValue>) -> PyValue {
        let host = Host {
            env: &no_env,
            files: true,
        };
        match call(f, args, vec![], &host).unwrap() {
            Called::Value(v) => v,
            Called::File(_) => panic!("a file"),
        }
    }

    #[test]
    fn os_path_matches_posixpath() {
        assert_eq!(
            value(Func::Join, vec![s("/etc"), s("pi"), s("pi.cfg")]),
            s("/etc/pi/pi.cfg")
        );
        assert_eq!(
            value(Func::Join, vec![s("/etc/"), s("/abs"), s("x")]),
            s("/abs/x")
        );
        assert_eq!(value(Func::Join, vec![s(""), s("x")]), s("x"));
        assert_eq!(
            value(Func::Dirname, vec![s("/etc/privacyidea/pi.cfg")]),
            s("/etc/privacyidea")
        );
        assert_eq!(value(Func::Dirname, vec![s("pi.cfg")]), s(""));
        assert_eq!(value(Func::Dirname, vec![s("/pi.cfg")]), s("/"));
        assert_eq!(value(Func::Dirname, vec![s("a//b")]), s("a"));
        assert_eq!(value(Func::Basename, vec![s("/etc/x/")]), s(""));
        assert_eq!(value(Func::Abspath, vec![s("/a/./b/../c/")]), s("/a/c"));
        assert_eq!(value(Func::Abspath, vec![s("/../x")]), s("/x"));
        assert_eq!(normpath("//a//b"), "//a/b");
        assert_eq!(value(Func::Exists, vec![s("/")]), PyValue::Bool(true));
        assert_eq!(value(Func::IsFile, vec![s("/")]), PyValue::Bool(false));
        assert_eq!(value(Func::IsDir, vec![s("/")]), PyValue::Bool(true));
        assert_eq!(
            value(Func::Exists, vec![s("/nonexistent/x")]),
            PyValue::Bool(false)
        );
    }

    #[test]
    fn conversions_match_python() {
        assert_eq!(value(Func::Int, vec![s(" 42 ")]), PyValue::Int(42));
        assert_eq!(value(Func::Int, vec![s("-1_000")]), PyValue::Int(-1000));
        assert_eq!(
            value(Func::Int, vec![s("0x1f"), PyValue::Int(16)]),
            PyValue::Int(31)
        );
        assert_eq!(
            value(Func::Int, vec![s("0o17"), PyValue::Int(0)]),
            PyValue::Int(15)
        );
        assert_eq!(
            value(Func::Int, vec![PyValue::Float(-2.7)]),
            PyValue::Int(-2)
        );
        let host = Host {
            env: &no_env,
            files: true,
        };
        for bad in ["", "1.5", "1__0", "_1", "abc", "08x"] {
            let e = call(Func::Int, vec![s(bad)], vec![], &host).err().unwrap();
            assert_eq!(
                e, "ValueError: invalid literal for int() with base 10",
                "{bad}"
            );
        }
        assert_eq!(
            value(Func::Float, vec![s(" 1.5e3 ")]),
            PyValue::Float(1500.0)
        );
        assert_eq!(
            value(Func::Float, vec![s("-Infinity")]),
            PyValue::Float(f64::NEG_INFINITY)
        );
        assert_eq!(value(Func::Str, vec![PyValue::Float(2.0)]), s("2.0"));
        assert_eq!(value(Func::Bool, vec![s("False")]), PyValue::Bool(true));
        assert_eq!(value(Func::Len, vec![s("é€")]), PyValue::Int(2));
    }

    #[test]
    fn get_level_name_goes_both_ways() {
        assert_eq!(value(Func::GetLevelName, vec![s("INFO")]), PyValue::Int(20));
        assert_eq!(value(Func::GetLevelName, vec![s("WARN")]), PyValue::Int(30));
        assert_eq!(
            value(Func::GetLevelName, vec![PyValue::Int(40)]),
            s("ERROR")
        );
        assert_eq!(value(Func::GetLevelName, vec![s("info")]), s("Level info"));
        assert_eq!(
            value(Func::GetLevelName, vec![PyValue::Int(25)]),
            s("Level 25")
        );
    }

    #[test]
    fn str_methods_match_python() {
        let m =
            |v: &str, name: &str, args: Vec<PyValue>| method(&s(v), name, args, vec![]).unwrap();
        assert_eq!(m("  a b  ", "strip", vec![]), s("a b"));
        assert_eq!(m("xxaxx", "lstrip", vec![s("x")]), s("axx"));
        assert_eq!(m("key\n\n", "rstrip", vec![s("\n")]), s("key"));
        assert_eq!(
            m("  a  b c ", "split", vec![]),
            PyValue::List(vec![s("a"), s("b"), s("c")])
        );
        assert_eq!(
            m("a  b c ", "split", vec![PyValue::None, PyValue::Int(1)]),
            PyValue::List(vec![s("a"), s("b c ")])
        );
        assert_eq!(
            m("a,,b", "split", vec![s(",")]),
            PyValue::List(vec![s("a"), s(""), s("b")])
        );
        assert_eq!(m("", "split", vec![]), PyValue::List(vec![]));
        assert_eq!(m("", "split", vec![s(",")]), PyValue::List(vec![s("")]));
        assert_eq!(
            m("aXbX", "replace", vec![s("X"), s("-"), PyValue::Int(1)]),
            s("a-bX")
        );
        assert_eq!(m("ab", "replace", vec![s(""), s("-")]), s("-a-b-"));
        assert_eq!(m("Info", "upper", vec![]), s("INFO"));
        assert_eq!(
            m(
                "mysql://x",
                "startswith",
                vec![PyValue::Tuple(vec![s("pg"), s("mysql")])]
            ),
            PyValue::Bool(true)
        );
        assert_eq!(
            m("pi.cfg", "endswith", vec![s(".cfg")]),
            PyValue::Bool(true)
        );
        assert!(method(&PyValue::Int(1), "strip", vec![], vec![])
            .unwrap_err()
            .starts_with("AttributeError: 'int'"));
    }
}
