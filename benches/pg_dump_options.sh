#!/usr/bin/env bash
# pg_dump's own options on ROWS (default 10^6) audit rows of the backup benchmark's shape
# (benches/common/server_db.rs): the plain dump pi-manage's backup runs, against the formats
# and options it cannot use (docs/benchmarks.md, "The dump tools' own options"). Two rounds,
# alternating; wall, user and system seconds of pg_dump itself, and the output's size.
# Usage: benches/pg_dump_options.sh [ROWS]   (PostgreSQL at 127.0.0.1:5432, user postgres, trust)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
cargo build --release --quiet
bin=$PWD/target/release/pi-manage
DB=pim_bench_pg_dump_$$
W=$(mktemp -d /var/tmp/pim-bench-pg-dump.XXXX)
P="-h 127.0.0.1 -U postgres --no-password"
trap 'rm -rf "$W"; psql -q $P -c "DROP DATABASE IF EXISTS $DB" postgres' EXIT
psql -q $P -c "CREATE DATABASE $DB" postgres
printf "SQLALCHEMY_DATABASE_URI = 'postgresql://postgres@127.0.0.1:5432/%s'\n" $DB > "$W/pi.cfg"
"$bin" --picfg "$W/pi.cfg" --quiet setup create_tables
psql -q $P -v rows="$rows" $DB <<'SQL'
INSERT INTO pidea_audit (id, date, startdate, duration, signature, action, success, serial, token_type, "user", realm, administrator, action_detail, info, privacyidea_server, client, loglevel, clearance_level, policies)
SELECT x, now() - (x % 400) * interval '1 day', now() - (x % 400) * interval '1 day', interval '12 milliseconds',
 'rsa_sha256_pss:' || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text)
 || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text),
 'POST /validate/check', x % 2, 'HOTP' || (x % 5000), 'hotp', 'user' || (x % 1000), 'realm1', '', '', 'wrong otp value', 'vecnode', '10.0.' || (x % 250) || '.1', 'default', 'default', 'policy1'
FROM generate_series(1, :rows) AS x;
VACUUM ANALYZE;
SQL
run() { # label, output, args...
    local label=$1 out=$2; shift 2
    rm -rf "$out"
    local t
    t=$( { /usr/bin/time -f '%e %U %S' pg_dump $P "$@" $DB >/dev/null; } 2>&1 | tail -1)
    printf '| %s | %s | %s |\n' "$label" "$t" "$(du -sb "$out" | cut -f1)"
    rm -rf "$out"
}
echo "load $(cut -d' ' -f1-3 /proc/loadavg); $(pg_dump --version)"
echo "| options | wall user sys (s) | bytes |"
for round in 1 2; do
    run "plain (ours)" "$W/p.sql" --format=plain --clean --if-exists --no-owner --no-privileges --no-comments -f "$W/p.sql"
    run "custom -Z0" "$W/c.dump" --format=custom -Z0 --no-owner --no-privileges --no-comments -f "$W/c.dump"
    run "directory -Z0 -j2" "$W/d" --format=directory -Z0 -j2 --no-owner --no-privileges --no-comments -f "$W/d"
    run "plain --rows-per-insert=1000" "$W/i.sql" --format=plain --rows-per-insert=1000 --no-owner --no-privileges --no-comments -f "$W/i.sql"
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
