//! Tests of the whole pipeline: text in, settings or every problem out.

use super::*;

fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k: &str| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

fn eval_env(text: &str, vars: &'static [(&'static str, &'static str)]) -> PiCfg {
    let env = env_of(vars);
    match PiCfg::evaluate(
        text,
        Some(Path::new("/etc/pi/pi.cfg")),
        &Host {
            env: &env,
            files: true,
        },
    ) {
        Ok(cfg) => cfg,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn parse(text: &str) -> PiCfg {
    match PiCfg::parse(text) {
        Ok(cfg) => cfg,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn value(text: &str) -> PyValue {
    parse(text).get("A").expect("A is set").clone()
}

fn s(text: &str) -> PyValue {
    PyValue::Str(text.to_string())
}

/// Strict equality (PyValue's `==` is Python's, where `1 == 1.0 == True`).
fn same(a: &PyValue, b: &PyValue) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
        && a == b
        && match (a, b) {
            (PyValue::List(x), PyValue::List(y)) | (PyValue::Tuple(x), PyValue::Tuple(y)) => {
                x.iter().zip(y).all(|(p, q)| same(p, q))
            }
            _ => true,
        }
}

fn assert_value(text: &str, want: PyValue) {
    let got = value(text);
    assert!(
        same(&got, &want),
        "{text}: got {}, want {}",
        value::repr(&got),
        value::repr(&want)
    );
}

/// (line, column, message) of every problem.
fn problems(text: &str) -> Vec<(usize, usize, String)> {
    match PiCfg::parse(text) {
        Err(PiCfgError::Problems { problems, .. }) => problems
            .into_iter()
            .map(|p| (p.pos.line, p.pos.column, p.message))
            .collect(),
        Err(other) => panic!("expected problems, got {other}"),
        Ok(cfg) => panic!("expected problems, parsed {cfg:?}"),
    }
}

fn assert_error(text: &str, line: usize, column: usize, needle: &str) {
    let all = problems(text);
    assert!(
        all.iter()
            .any(|(l, c, m)| (*l, *c) == (line, column) && m.contains(needle)),
        "{text:?}: no problem at {line}:{column} containing {needle:?}; got {all:?}"
    );
}

#[test]
fn literals_of_every_form() {
    let cfg = parse(
        r#"A = 'single'
B = "double"
C = '''triple
single'''
D = """triple "double" with 'quotes'"""
E = r'raw' R"RAW"
F = u'unicode' U"UNICODE"
G = b'bytes' B"BYTES"
I = br'\d' rb"\d"
J = ''
M = '''a'b''c'''
N = -0x10, 0o755, 0b1010, 1_000, .5, 1e3, True, False, None
O = {'k': [1, (2,), {}], ('t', 1): None,}
"#,
    );
    assert_eq!(cfg.get("A"), Some(&s("single")));
    assert_eq!(cfg.get("C"), Some(&s("triple\nsingle")));
    assert_eq!(cfg.get("D"), Some(&s("triple \"double\" with 'quotes'")));
    assert_eq!(cfg.get("E"), Some(&s("rawRAW")));
    assert_eq!(cfg.get("F"), Some(&s("unicodeUNICODE")));
    assert_eq!(cfg.get("G"), Some(&PyValue::Bytes(b"bytesBYTES".to_vec())));
    assert_eq!(cfg.get("I"), Some(&PyValue::Bytes(br"\d\d".to_vec())));
    assert_eq!(cfg.get("J"), Some(&s("")));
    assert_eq!(cfg.get("M"), Some(&s("a'b''c")));
    assert_eq!(
        value::repr(cfg.get("N").unwrap()),
        "(-16, 493, 10, 1000, 0.5, 1000.0, True, False, None)"
    );
    assert_eq!(
        value::repr(cfg.get("O").unwrap()),
        "{'k': [1, (2,), {}], ('t', 1): None}"
    );
    assert_value("A = -9223372036854775808", PyValue::Int(i64::MIN));
    assert_error("A = 9223372036854775808", 1, 5, "out of range");
}

#[test]
fn escapes_and_continuations() {
    assert_value(
        r#"A = '\\ \' \" \n \r \t \a \b \f \v \0 \101 \x41 \u00e9 \U0001F600 \d'"#,
        s("\\ ' \" \n \r \t \x07 \x08 \x0c \x0b \0 A A é 😀 \\d"),
    );
    assert_value("A = 'ab\\\ncd'", s("abcd"));
    assert_value("A = \\\n  'x' \\\n  'y'", s("xy"));
    assert_value(
        "A = ('first '\n  \"second \"  # comment\n  '''third''')",
        s("first second third"),
    );
    assert_value("A = r'\\d+\\''", s("\\d+\\'"));
    let cfg =
        parse("\u{feff}A = 'x'\r\nB = [1,\r\n 2]\r\nC = 1; D = 2;\n\"\"\"docstring\"\"\"\npass\n");
    assert_eq!(cfg.names().collect::<Vec<_>>(), ["A", "B", "C", "D"]);
    assert_eq!(cfg.position("B"), Some(Position { line: 2, column: 1 }));
}

#[test]
fn helpers_are_bound_and_only_uppercase_names_are_settings() {
    let cfg = parse("base = '/srv'\nA = base + '/pi'\nMixed_Case = 1\n_X = 2\nA2B = 3\nx = A + '!'\nB = x\nA = 'again'\n");
    assert_eq!(cfg.names().collect::<Vec<_>>(), ["A", "_X", "A2B", "B"]);
    assert_eq!(cfg.get("A"), Some(&s("again")));
    assert_eq!(cfg.position("A"), Some(Position { line: 8, column: 1 }));
    assert_eq!(cfg.get("B"), Some(&s("/srv/pi!")));
    let cfg = parse("A = B = 'x'\nC = 1\nC += 2\nD = 'a'\nD *= 3\n");
    assert_eq!(cfg.get("B"), Some(&s("x")));
    assert!(same(cfg.get("C").unwrap(), &PyValue::Int(3)));
    assert_eq!(cfg.get("D"), Some(&s("aaa")));
}

#[test]
fn python_semantics() {
    assert_value("A = 7 / 2", PyValue::Float(3.5));
    assert_value("A = 8 / 2", PyValue::Float(4.0));
    assert_value("A = 7 // 2", PyValue::Int(3));
    assert_value("A = -7 // 2", PyValue::Int(-4));
    assert_value("A = -7 % 3", PyValue::Int(2));
    assert_value("A = 7.5 // 2", PyValue::Float(3.0));
    assert_value("A = 2 * 3 + 4 % 3 - -1", PyValue::Int(8));
    assert_value("A = True + True", PyValue::Int(2));
    assert_value("A = 'k' * 3", s("kkk"));
    assert_value("A = 2 * 'ab'", s("abab"));
    assert_value(
        "A = [1] * 2 + [2]",
        PyValue::List(vec![PyValue::Int(1), PyValue::Int(1), PyValue::Int(2)]),
    );
    assert_value("A = '' or 'default'", s("default"));
    assert_value("A = 'set' or 'default'", s("set"));
    assert_value("A = 0 or None", PyValue::None);
    assert_value("A = 'x' and 0", PyValue::Int(0));
    assert_value("A = [] and 1", PyValue::List(vec![]));
    assert_value("A = not ''", PyValue::Bool(true));
    assert_value("A = 1 < 2 < 3", PyValue::Bool(true));
    assert_value("A = 1 < 3 < 2", PyValue::Bool(false));
    assert_value("A = 1 == 1.0", PyValue::Bool(true));
    assert_value("A = 'a' in 'cat' and 'x' not in ['y']", PyValue::Bool(true));
    assert_value("A = None is None and 1 is not None", PyValue::Bool(true));
    assert_value("A = 'yes' if 0 else 'no'", s("no"));
    assert_value("A = 'a' if 1 else 'b' if 0 else 'c'", s("a"));
    assert_value("A = 'abcdef'[1:-1:2]", s("bd"));
    assert_value("A = ('x', 'y')[-1]", s("y"));
    assert_value("A = {'k': 'v'}['k']", s("v"));
    assert_value("A = '%s' % 'x'", s("x"));
    assert_value("A = '%s://%s:%d' % ('pg', 'db', 5432)", s("pg://db:5432"));
    assert_value("A = '%r' % 'x'", s("'x'"));
    assert_value("A = '100%%'  % ()", s("100%"));
    assert_value("A = '{}-{x}'.format(1, x=2.5)", s("1-2.5"));
    assert_value(
        "A = str(1.0) + str(None) + str(True) + str([1, 'a'])",
        s("1.0NoneTrue[1, 'a']"),
    );
    assert_value("A = int('  42 ') + int(2.9) + len('abc')", PyValue::Int(47));
    assert_value("A = float('1.5')", PyValue::Float(1.5));
    assert_value("A = bool('False')", PyValue::Bool(true));
    assert_value(
        "A = ' a,b '.strip().upper().split(',')",
        PyValue::List(vec![s("A"), s("B")]),
    );
    // The branch not taken is never evaluated (but still checked).
    assert_value("A = 1 if True else 1 / 0", PyValue::Int(1));
    assert_value("A = 'x' or int('no')", s("x"));
}

#[test]
fn f_strings() {
    assert_value("x = 'db'\nA = f'{x}:{5432}'", s("db:5432"));
    assert_value(
        "x = 'db'\nA = f\"{x!r} {x:>4} {2.345:.2f} {{lit}} {1 + 1}\"",
        s("'db'   db 2.35 {lit} 2"),
    );
    assert_value("A = 'a' f'{1}' \"b\"", s("a1b"));
    assert_value("A = rf'\\d{2}'", s("\\d2"));
    assert_value("x = {'k': 'v'}\nA = f\"{x['k']}\"", s("v"));
    assert_value("n = 7\nA = f'''{n:03d}\n{n!s}'''", s("007\n7"));
    assert_error("A = f'{}'", 1, 8, "empty expression");
    assert_error("A = f'{x'", 1, 8, "expecting '}'");
    assert_error("A = f'}'", 1, 7, "single '}'");
    assert_error("A = f'{1!x}'", 1, 10, "invalid conversion");
    assert_error("A = f'{print(1)}'", 1, 8, "'print' is not supported");
}

#[test]
fn environment_files_and_modules() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cr3t-from-file\r\n").unwrap();
    let text = format!(
        "import os\nimport logging\nfrom os import environ, getenv as ge, path\nA = os.getenv('HOST', 'localhost')\nB = ge('MISSING')\nC = environ['HOST']\nD = os.environ.get('MISSING', 'd')\nE = open('{}').read().rstrip('\\n')\nF = path.exists('{}') and os.path.isfile('{}') and not os.path.isdir('{}')\nG = 'HOST' in os.environ and 'MISSING' not in environ\nH = logging.getLevelName('WARNING'), logging.getLevelName(10), logging.CRITICAL\nI = os.path.expanduser('~/x')\nJ = __file__\nK = path.basename(__file__)\n",
        secret.display(),
        secret.display(),
        secret.display(),
        secret.display()
    );
    let cfg = eval_env(&text, &[("HOST", "db.example"), ("HOME", "/home/pi")]);
    assert_eq!(cfg.get("A"), Some(&s("db.example")));
    assert!(same(cfg.get("B").unwrap(), &PyValue::None));
    assert_eq!(cfg.get("C"), Some(&s("db.example")));
    assert_eq!(cfg.get("D"), Some(&s("d")));
    assert_eq!(cfg.get("E"), Some(&s("s3cr3t-from-file")));
    assert!(same(cfg.get("F").unwrap(), &PyValue::Bool(true)));
    assert!(same(cfg.get("G").unwrap(), &PyValue::Bool(true)));
    assert_eq!(value::repr(cfg.get("H").unwrap()), "(30, 'DEBUG', 50)");
    assert_eq!(cfg.get("I"), Some(&s("/home/pi/x")));
    assert_eq!(cfg.get("J"), Some(&s("/etc/pi/pi.cfg")));
    assert_eq!(cfg.get("K"), Some(&s("pi.cfg")));
    // Inside a backup (PiCfg::parse) nothing is read from the host.
    let cfg = parse("import os\nA = os.getenv('HOME', 'none')\nB = os.path.exists('/')\n");
    assert_eq!(cfg.get("A"), Some(&s("none")));
    assert!(same(cfg.get("B").unwrap(), &PyValue::Bool(false)));
}

#[test]
fn open_reads_only_small_regular_utf8_files() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'a'; (builtins::MAX_READ + 1) as usize]).unwrap();
    let latin1 = dir.path().join("latin1");
    std::fs::write(&latin1, b"caf\xe9").unwrap();
    let d = dir.path().display();
    for (file, needle) in [
        (format!("{d}/big"), "larger than 1024 KiB"),
        (format!("{d}/latin1"), "UnicodeDecodeError"),
        (format!("{d}/missing"), "FileNotFoundError"),
        (d.to_string(), "IsADirectoryError"),
        ("/dev/null".to_string(), "only reads regular files"),
    ] {
        let env = no_env;
        let e = PiCfg::evaluate(
            &format!("A = open('{file}').read()"),
            None,
            &Host {
                env: &env,
                files: true,
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains(needle), "{file}: {e}");
        assert!(e.to_string().starts_with("line 1, column "), "{e}");
    }
    let env = no_env;
    let e = PiCfg::evaluate(
        "A = open('/etc/passwd', 'w').read()",
        None,
        &Host {
            env: &env,
            files: true,
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("may only read text"), "{e}");
}

#[test]
fn runtime_errors_are_reported_with_positions_and_without_cascades() {
    let text = "import os\nA = os.environ['PI_DB_PASSWORD']\nB = A + 'x'\nC = None + 'x'\nD = 1\nE = int('x' + 'y')\nF = {'k': 1}['z']\n";
    let all = problems(text);
    assert_eq!(
        all,
        [
            (
                2,
                15,
                "KeyError: the environment variable PI_DB_PASSWORD is not set".to_string()
            ),
            (
                4,
                10,
                "TypeError: unsupported operand type(s) for +: 'NoneType' and 'str'".to_string()
            ),
            (
                6,
                5,
                "ValueError: invalid literal for int() with base 10".to_string()
            ),
            (7, 13, "KeyError: the key is not in the dict".to_string()),
        ]
    );
}

#[test]
fn every_refused_construct_is_reported_in_one_run() {
    let text = "\
import sys
from os.path import join
from os import system
import os
x = os.system('id')
for i in range(3):
    A = i
B = [n for n in 'ab']
C = globals()
D = 2 ** 8
E = lambda: 1
def f():
    return 1
F = undefined_name
G = 'x'.encode()
os.environ['X'] = 'y'
H = {1, 2}
class K:
    pass
I = 1 | 2
while True: pass
J = print('hi')
K = os.sep
  L = 1
M = 'unterminated
N = (((
";
    let all = problems(text);
    let want = [
        (1, 8, "importing 'sys' is not supported"),
        (2, 1, "'from os.path import ...' is not supported"),
        (3, 16, "'from os import system' is not supported"),
        (5, 8, "calling 'os.system' is not supported"),
        (6, 1, "'for' statements are not supported"),
        (8, 8, "comprehensions are not supported"),
        (9, 5, "'globals' is not supported"),
        (10, 7, "the operator '**' is not supported"),
        (11, 5, "lambda expressions are not supported"),
        (12, 1, "'def' statements are not supported"),
        (14, 5, "this name is not defined"),
        (15, 9, "the method 'encode' is not supported"),
        (16, 11, "assigning to a subscript"),
        (17, 5, "sets are not supported"),
        (18, 1, "'class' statements are not supported"),
        (20, 7, "the operator '|' is not supported"),
        (21, 1, "'while' statements are not supported"),
        (22, 5, "'print' is not supported"),
        (23, 8, "'os.sep' is not supported"),
        (24, 3, "unexpected indentation"),
        (25, 5, "unterminated string"),
        (26, 7, "'(' was never closed"),
    ];
    for (line, column, needle) in want {
        assert!(
            all.iter()
                .any(|(l, c, m)| (*l, *c) == (line, column) && m.contains(needle)),
            "no problem at {line}:{column} containing {needle:?}; got {all:#?}"
        );
    }
    assert_eq!(all.len(), want.len(), "{all:#?}");
    // Sorted by position, each `line L, column C: message`, then the hint.
    let e = PiCfg::parse(text).unwrap_err().to_string();
    assert!(
        e.starts_with("22 problems in pi.cfg:\nline 1, column 8: importing 'sys'"),
        "{e}"
    );
    assert!(e.ends_with(HINT), "{e}");
    assert!(HINT.contains("--picfg-python"));
}

#[test]
fn deep_nesting_and_long_chains_are_refused_without_overflow() {
    for text in [
        format!("A = {}", "(".repeat(60_000)),
        format!("A = {}1{}", "[".repeat(60_000), "]".repeat(60_000)),
        format!("A = {}1", "-".repeat(60_000)),
        format!("A = {}1", "not ".repeat(60_000)),
        format!("A = 1{}", " + 1".repeat(60_000)),
        format!("A = f'{{{}1{}}}'", "(".repeat(1000), ")".repeat(1000)),
        format!("A = {}", "{'k': ".repeat(60_000)),
    ] {
        let all = problems(&text);
        assert!(
            all.iter().any(|(_, _, m)| m.contains("nested")),
            "{}: {all:?}",
            &text[..20]
        );
    }
    // Realistic nesting is fine.
    assert_value("A = ((((((((((1))))))))))", PyValue::Int(1));
}

#[test]
fn load_reports_path_utf8_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pi.cfg");
    std::fs::write(&path, "A = 1\nB = x\nC = y\n").unwrap();
    let e = PiCfg::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "2 problems in {p}:\n{p}:2:5: this name is not defined (it is not assigned before this line; a string needs quotes)\n{p}:3:5: this name is not defined (it is not assigned before this line; a string needs quotes)\nhint: ",
            p = path.display()
        )),
        "{e}"
    );
    std::fs::write(&path, b"A = 1\nB = 'caf\xe9'\n").unwrap();
    let e = PiCfg::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:2:9: the file is not valid UTF-8",
            path.display()
        )),
        "{e}"
    );
    std::fs::write(&path, vec![b'#'; (MAX_FILE + 1) as usize]).unwrap();
    assert!(PiCfg::load(&path)
        .unwrap_err()
        .to_string()
        .contains("larger than"));
    let missing = dir.path().join("missing.cfg");
    assert!(matches!(
        PiCfg::load(&missing).unwrap_err(),
        PiCfgError::Io { .. }
    ));
    std::fs::write(&path, "PI_LOGLEVEL = 20\n").unwrap();
    let cfg = PiCfg::load(&path).unwrap();
    assert_eq!(cfg.path(), Some(path.as_path()));
    assert_eq!(
        cfg.get_str("PI_LOGLEVEL").unwrap_err().to_string(),
        format!("{}:1:1: PI_LOGLEVEL must be a str, not int", path.display())
    );
}

#[test]
fn literal_eval_accepts_literals_only() {
    assert_eq!(
        value::repr(&literal_eval(" {'a': [1, -2.5, (True,)], 'b': None} ").unwrap()),
        "{'a': [1, -2.5, (True,)], 'b': None}"
    );
    assert_eq!(literal_eval("'multi'\n'line'"), None);
    assert_eq!(literal_eval("('multi'\n'line')"), Some(s("multiline")));
    for bad in [
        "1 + 2",
        "x",
        "os.getenv('X')",
        "f'{1}'",
        "-'x'",
        "{[1]: 2}",
        "[1,",
        "",
    ] {
        assert_eq!(literal_eval(bad), None, "{bad}");
    }
}

#[test]
fn secrets_never_reach_errors_or_debug() {
    const SECRET: &str = "t0p-s3cret";
    let cfg = eval_env(
        "import os\nSECRET_KEY = 't0p-s3cret'\nPI_PEPPER = os.getenv('PEPPER')\nA = ['t0p-s3cret', {'t0p-s3cret': 1}]\nN = len(os.getenv('PEPPER'))\n",
        &[("PEPPER", "t0p-s3cret")],
    );
    let debug = format!(
        "{cfg:?} {:?} {:?} {:?}",
        cfg.get("A"),
        cfg.get("PI_PEPPER"),
        cfg.get("N")
    );
    assert!(!debug.contains("t0p") && !debug.contains("10"), "{debug}");
    assert!(debug.contains("SECRET_KEY"), "{debug}");
    let env = env_of(&[("PEPPER", "t0p-s3cret"), ("NUM", "t0p-s3cret")]);
    let broken = [
        "SECRET_KEY = t0p-s3cret",
        "SECRET_KEY = 't0p-s3cret' + 1",
        "SECRET_KEY = 't0p-s3cret\nB = 1",
        "SECRET_KEY = f't0p-s3cret{'",
        "SECRET_KEY = 't0p-s3cret'.bogus()",
        "SECRET_KEY = int('t0p-s3cret')",
        "SECRET_KEY = float('t0p-s3cret')",
        "SECRET_KEY = {'a': 1}['t0p-s3cret']",
        "SECRET_KEY = 't0p-s3cret'[99]",
        "SECRET_KEY = '%d' % 't0p-s3cret'",
        "SECRET_KEY = '{t0p}'.format()",
        "SECRET_KEY = 't0p-s3cret' < 1",
        "import os\nSECRET_KEY = os.environ[os.getenv('PEPPER')]",
        "import os\nSECRET_KEY = int(os.getenv('NUM'))",
        "import os\nSECRET_KEY = open(os.getenv('PEPPER')).read()",
        "import os\nSECRET_KEY = os.getenv('PEPPER') + 1",
        "t0p_s3cret = 1 +",
        "SECRET_KEY = b't0p-s3cret\u{e9}'",
        "SECRET_KEY = 0t0p",
    ];
    for text in broken {
        let e = PiCfg::evaluate(
            text,
            None,
            &Host {
                env: &env,
                files: true,
            },
        )
        .unwrap_err();
        let shown = format!("{e} {e:?}");
        assert!(
            !shown.contains(SECRET) && !shown.contains("s3cret"),
            "{text:?} leaked: {shown}"
        );
    }
}
