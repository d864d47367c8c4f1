#!/usr/bin/env bash
# Idle cost of `pi-manage schedule`: 50 job files loaded (daily schedules, so nothing fires),
# run for SECONDS (default 60); prints CPU time used, average CPU %, and peak/current RSS.
# Usage: benches/scheduler_idle.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cargo build --release --quiet
bin=target/release/pi-manage
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
printf "SQLALCHEMY_DATABASE_URI = 'sqlite:///%s/pi.sqlite'\n" "$work" > "$work/pi.cfg"
"$bin" --picfg "$work/pi.cfg" setup create_tables > /dev/null
mkdir "$work/jobs"
for i in $(seq 1 50); do
  printf 'version: 1\nname: job-%02d\nschedule: "%d 3 * * *"\ntimezone: UTC\ntasks:\n  - kind: challenge_cleanup\n' "$i" "$i" > "$work/jobs/job-$i.yaml"
done
"$bin" --picfg "$work/pi.cfg" schedule "$work/jobs" --node bench > "$work/log" 2>&1 &
pid=$!
sleep 2
ticks=$(getconf CLK_TCK)
start=$(awk '{print $14+$15}' /proc/$pid/stat)
sleep "$secs"
end=$(awk '{print $14+$15}' /proc/$pid/stat)
cpu_ms=$(( (end - start) * 1000 / ticks ))
echo "jobs loaded:        50"
echo "idle seconds:       $secs"
echo "CPU time used:      ${cpu_ms} ms ($(awk -v c="$cpu_ms" -v s="$secs" 'BEGIN{printf "%.3f", c/(s*10)}') % of one core)"
grep -E 'VmHWM|VmRSS' /proc/$pid/status | sed 's/^/memory:             /'
echo "threads:            $(ls /proc/$pid/task | wc -l)"
