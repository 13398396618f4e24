# vdiff-checksum: checksum-first VDiff of 1M equal sbtest-shaped rows between two private MariaDB servers, against
# pt-table-sync --print on the same pair (which checksums chunks, then would print the statements to fix them: none).
# Both sides: wall clock of the whole command, rows of the table per second. Ours runs the real shard differ (chunk
# checksums on both servers at once, a sidecar checkpoint per chunk) on snapshots of quiesced data (no stream to align).
# Context: peak memory of the VDiff process at 1M and at 250k rows.
UNIT="rows/s"
ANCHOR="pt-table-sync --print"
DESCRIPTION="checksum-first VDiff of ${BENCH_ROWS:-1000000} equal sbtest rows"
source bench/Durable.Bench/VDiff/vdiff-env.sh

bench_setup() {
  command -v pt-table-sync >/dev/null || { apt-get install -y -q percona-toolkit >/dev/null 2>&1 || { echo "vdiff-checksum: percona-toolkit is missing and could not be installed" >&2; return 1; }; }
  vdiff_setup
  # The anchor's password goes through a private defaults file (F= in the DSN), never the command line.
  PT_CNF="$VDIFF_DIR/pt.cnf"
  ( umask 077; printf '[client]\nuser=bench\npassword=%s\n' "$BENCH_MYSQL_PASSWORD" >"$PT_CNF" )
}

bench_teardown() { vdiff_teardown; }

bench_ours() { vdiff_ours checksum sbtest1 "$ROWS"; }

bench_anchor() {
  local t0 t1 out TIMEFORMAT='%U %S'
  vdiff_cpu_begin
  t0=$(pm_now)
  { time pt-table-sync --print --no-check-triggers "F=$PT_CNF,h=127.0.0.1,P=$PM_PORT_vsrc,D=sbtest,t=sbtest1" "F=$PT_CNF,h=127.0.0.1,P=$PM_PORT_vdst" >"$VDIFF_DIR/pt.out" 2>&1; } 2>"$VDIFF_DIR/pt.time" \
    || { echo "pt-table-sync failed: $(cat "$VDIFF_DIR/pt.out")" >&2; return 1; }
  t1=$(pm_now)
  vdiff_cpu_end anchor "$(awk '{ printf "%.2f", $1 + $2 }' "$VDIFF_DIR/pt.time")"
  out=$(cat "$VDIFF_DIR/pt.out")
  [ -z "$out" ] || { echo "pt-table-sync printed differences on equal tables: $(head -3 <<<"$out")" >&2; return 1; }
  awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }'
}

bench_context() { vdiff_memory checksum; }
