//! Splitting a SQL script into its statements, for drivers whose protocol runs one statement
//! per call (the MySQL binary protocol) and for DDL files.
//!
//! A `;` ends a statement only outside single-quoted strings (`''` and backslash escapes),
//! double-quoted and back-quoted identifiers, PostgreSQL dollar-quoted strings (`$tag$…$tag$`),
//! `--` line comments and `/* … */` block comments.

/// Split `sql` at the `;` that end statements. Each statement is returned trimmed and without
/// its `;`; pieces that hold nothing but whitespace and comments are dropped (MySQL rejects an
/// empty query).
pub fn split_sql_statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => i = skip_quoted(bytes, i, b'\'', true),
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'`' => i = skip_quoted(bytes, i, b'`', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = skip_line_comment(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            b'$' => i = skip_dollar_quoted(bytes, i),
            b';' => {
                push_statement(&mut out, &sql[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push_statement(&mut out, &sql[start..]);
    out
}

fn push_statement<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
    let piece = piece.trim();
    if !only_comments(piece) {
        out.push(piece);
    }
}

/// Whether `s` holds nothing but whitespace and comments.
fn only_comments(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
        } else if b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
            i = skip_line_comment(b, i);
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(b, i);
        } else {
            return false;
        }
    }
    true
}

/// From the opening quote at `i`, the index just past the closing one (or the end).
/// A doubled quote is an escaped quote; `backslash` also honours `\x` escapes.
pub(crate) fn skip_quoted(b: &[u8], i: usize, quote: u8, backslash: bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if backslash && b[j] == b'\\' {
            j += 2;
        } else if b[j] == quote {
            if b.get(j + 1) == Some(&quote) {
                j += 2;
            } else {
                return j + 1;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// From `--` at `i`, the index of the newline ending the comment (or the end).
pub(crate) fn skip_line_comment(b: &[u8], i: usize) -> usize {
    let mut j = i + 2;
    while j < b.len() && b[j] != b'\n' {
        j += 1;
    }
    j
}

/// From `/*` at `i`, the index just past the matching `*/` (nested as PostgreSQL does).
pub(crate) fn skip_block_comment(b: &[u8], i: usize) -> usize {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// From a `$` at `i`: when it opens a dollar-quoted string (`$$` or `$tag$`, the `$` not
/// following an identifier character), the index past its closing tag; otherwise `i + 1`.
pub(crate) fn skip_dollar_quoted(b: &[u8], i: usize) -> usize {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] >= 0x80) {
        return i + 1;
    }
    let mut j = i + 1;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
        j += 1;
    }
    if j >= b.len() || b[j] != b'$' || (j > i + 1 && b[i + 1].is_ascii_digit()) {
        // `$1` (a positional parameter) or a lone `$`.
        return i + 1;
    }
    let tag = &b[i..=j];
    let mut k = j + 1;
    while k + tag.len() <= b.len() {
        if &b[k..k + tag.len()] == tag {
            return k + tag.len();
        }
        k += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_statement_ends_only() {
        let sql = "CREATE TABLE t (a VARCHAR(10) DEFAULT ';');\n\
                   -- a comment; with a semicolon\n\
                   INSERT INTO t VALUES ('it''s; fine', \"x;y\", `k;ey`);\n\
                   /* block; comment */ SELECT 1;\n\
                   SELECT 'back\\'slash;';\n\
                   SELECT $tag$ dollar ; quoted $tag$, $$;$$;\n\
                   -- trailing comment only\n";
        assert_eq!(
            split_sql_statements(sql),
            vec![
                "CREATE TABLE t (a VARCHAR(10) DEFAULT ';')",
                "-- a comment; with a semicolon\nINSERT INTO t VALUES ('it''s; fine', \"x;y\", `k;ey`)",
                "/* block; comment */ SELECT 1",
                "SELECT 'back\\'slash;'",
                "SELECT $tag$ dollar ; quoted $tag$, $$;$$",
            ]
        );
    }

    #[test]
    fn empty_and_comment_only_scripts_give_nothing() {
        assert!(split_sql_statements("").is_empty());
        assert!(split_sql_statements(" ;; \n -- x;\n /* y; */ ;").is_empty());
        assert_eq!(split_sql_statements("SELECT 1"), vec!["SELECT 1"]);
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        assert_eq!(
            split_sql_statements("SELECT $1; SELECT $2"),
            vec!["SELECT $1", "SELECT $2"]
        );
    }

    #[test]
    fn ddl_files_split_into_their_statements() {
        for (name, sql) in [
            ("sqlite", include_str!("ddl/sqlite_full.sql")),
            ("postgres", include_str!("ddl/postgres.sql")),
            ("mysql", include_str!("ddl/mysql.sql")),
            ("mariadb", include_str!("ddl/mariadb.sql")),
        ] {
            let stmts = split_sql_statements(sql);
            let tables = stmts.iter().filter(|s| s.contains("CREATE TABLE")).count();
            // Every dialect gets privacyIDEA's full schema.
            assert_eq!(tables, 68, "{name}: tables");
            let sequences = stmts
                .iter()
                .filter(|s| s.contains("CREATE SEQUENCE"))
                .count();
            let expected = if name == "postgres" || name == "mariadb" {
                45
            } else {
                0
            };
            assert_eq!(sequences, expected, "{name}: sequences");
            assert!(
                stmts
                    .last()
                    .unwrap()
                    .ends_with("INSERT INTO alembic_version (version_num) VALUES ('b7c1e4d2a9f3')"),
                "{name}: last statement"
            );
            assert!(
                stmts.iter().all(|s| !s.is_empty()),
                "{name}: empty statement"
            );
        }
        // MariaDB: AUTO_INCREMENT only where privacyIDEA uses identity columns; MySQL also on
        // the 45 primary keys that have sequences elsewhere.
        let auto = |sql: &str| {
            sql.lines()
                .filter(|l| !l.starts_with("--") && l.contains("AUTO_INCREMENT"))
                .count()
        };
        assert_eq!(auto(include_str!("ddl/mariadb.sql")), 13);
        assert_eq!(auto(include_str!("ddl/mysql.sql")), 13 + 45);
    }
}
