#!/usr/bin/env python3
"""Derive pi-manage's server DDL files from privacyIDEA 3.14's own schema dumps.

Inputs (copies of shared/vectors/db, made by privacyIDEA 3.14's `pi-manage setup create_tables`):
  tests/fixtures/create_tables/schema-postgresql.sql  pg_dump --schema-only --no-owner --no-privileges (PostgreSQL 15)
  tests/fixtures/create_tables/schema-mariadb.sql     mariadb-dump --no-data (MariaDB 10.11, utf8mb4)
Outputs:
  src/db/ddl/postgres.sql  the dump without psql settings, objects unqualified (current schema)
  src/db/ddl/mariadb.sql   the dump without client settings / DROP / SETVAL, tables ordered so
                           that referenced tables come first (the dump relies on FOREIGN_KEY_CHECKS=0)
  src/db/ddl/mysql.sql     mariadb.sql for MySQL 8: no sequences; the sequence-backed integer
                           primary keys become AUTO_INCREMENT and JSON columns JSON, which is what
                           SQLAlchemy emits for privacyIDEA's models on MySQL
Each output ends with the alembic stamp. Run from the repository root: python3 tools/derive_ddl.py
"""
import re

HEAD = "b7c1e4d2a9f3"
STAMP = f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD}');\n"
FIX = "tests/fixtures/create_tables/"


def postgres():
    out = []
    for line in open(FIX + "schema-postgresql.sql", encoding="utf-8"):
        s = line.rstrip("\n")
        if s.startswith("--") or s.startswith("SET ") or s.startswith("SELECT pg_catalog.set_config") \
                or s.startswith("\\"):
            continue
        out.append(re.sub(r"\bpublic\.", "", s))
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n\n"
    header = (
        "-- privacyIDEA 3.14 schema (alembic head %s) for PostgreSQL: 68 tables, 45 sequences.\n"
        "-- Derived by tools/derive_ddl.py from pg_dump --schema-only --no-owner --no-privileges of a\n"
        "-- PostgreSQL 15 database made by privacyIDEA 3.14's own 'pi-manage setup create_tables'\n"
        "-- (tests/fixtures/create_tables/schema-postgresql.sql): psql settings removed, objects\n"
        "-- unqualified so they go into the connection's current schema, alembic stamp appended.\n"
        "-- Statement shapes are relied on by src/db/schema.rs (repair of missing tables).\n\n" % HEAD
    )
    return header + text + STAMP


def mariadb_parts():
    text = open(FIX + "schema-mariadb.sql", encoding="utf-8").read()
    seqs = re.findall(r"^CREATE SEQUENCE .*;$", text, re.M)
    tables = re.findall(r"^CREATE TABLE `(\w+)` \(\n(.*?)\n\) (ENGINE=[^\n]*);$", text, re.M | re.S)
    return seqs, tables


def topo(tables):
    deps = {n: set(re.findall(r"REFERENCES `(\w+)`", b)) - {n} for n, b, _ in tables}
    done, order = set(), []
    def visit(n):
        if n in done:
            return
        done.add(n)
        for d in sorted(deps[n]):
            visit(d)
        order.append(n)
    for n in sorted(deps):
        visit(n)
    by = {n: (n, b, o) for n, b, o in tables}
    return [by[n] for n in order]


def mariadb():
    seqs, tables = mariadb_parts()
    out = [
        "-- privacyIDEA 3.14 schema (alembic head %s) for MariaDB >= 10.3: 68 tables, 45 sequences.\n"
        "-- Derived by tools/derive_ddl.py from mariadb-dump --no-data of a MariaDB 10.11 utf8mb4\n"
        "-- database made by privacyIDEA 3.14's own 'pi-manage setup create_tables'\n"
        "-- (tests/fixtures/create_tables/schema-mariadb.sql): client settings, DROP and SETVAL lines\n"
        "-- removed, tables ordered so that referenced tables come first, alembic stamp appended.\n"
        "-- Statement shapes are relied on by src/db/schema.rs (repair of missing tables).\n" % HEAD
    ]
    out += [s + "\n" for s in seqs]
    for n, body, opts in topo(tables):
        out.append("\nCREATE TABLE `%s` (\n%s\n) %s;\n" % (n, body, opts))
    out.append("\n" + STAMP)
    return "".join(out)


def mysql():
    _, tables = mariadb_parts()
    out = [
        "-- privacyIDEA 3.14 schema (alembic head %s) for MySQL 8 (and MariaDB < 10.3): 68 tables.\n"
        "-- Derived by tools/derive_ddl.py from the MariaDB schema (see mariadb.sql) the way SQLAlchemy\n"
        "-- renders privacyIDEA's models on MySQL: no sequences, so the 45 sequence-backed integer\n"
        "-- primary keys are AUTO_INCREMENT; JSON columns are JSON; integer display widths dropped.\n"
        "-- UNTESTED against a MySQL 8 server (see docs/compatibility.md).\n" % HEAD
    ]
    for n, body, opts in topo(tables):
        pk = re.search(r"PRIMARY KEY \(`(\w+)`\)", body)
        lines = []
        for line in body.split("\n"):
            m = re.match(r"  `(\w+)` (.*?)(,?)$", line)
            if m:
                col, spec, comma = m.groups()
                if pk and col == pk.group(1) and re.match(r"(int|bigint)\(\d+\) NOT NULL$", spec):
                    spec += " AUTO_INCREMENT"
                spec = re.sub(r"^longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin (.*?) CHECK \(json_valid\(`\w+`\)\)$",
                              r"json \1", spec)
                spec = re.sub(r"^(int|bigint)\(\d+\)", r"\1", spec)
                line = "  `%s` %s%s" % (col, spec, comma)
            lines.append(line)
        out.append("\nCREATE TABLE `%s` (\n%s\n) %s;\n" % (n, "\n".join(lines), opts))
    out.append("\n" + STAMP)
    return "".join(out)


for name, f in (("postgres", postgres), ("mariadb", mariadb), ("mysql", mysql)):
    with open("src/db/ddl/%s.sql" % name, "w", encoding="utf-8") as fh:
        fh.write(f())
