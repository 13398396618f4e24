# vdiff-rowlevel: row-level VDiff (--row-level: every row merged in key order, no checksum shortcut) of 1M equal
# sbtest-shaped rows between two private MariaDB servers, against the floor of any row compare: streaming
# SELECT * ... ORDER BY id from both servers at once to /dev/null (mariadb --quick). Wall clock of the whole
# command(s), rows of the table per second. Context: peak memory of the VDiff process at 1M and at 250k rows.
UNIT="rows/s"
ANCHOR="SELECT ... ORDER BY pk from both servers to /dev/null"
DESCRIPTION="row-level VDiff of ${BENCH_ROWS:-1000000} equal sbtest rows"
source bench/Durable.Bench/VDiff/vdiff-env.sh

bench_setup() { vdiff_setup; }

bench_teardown() { vdiff_teardown; }

bench_ours() { vdiff_ours rowlevel sbtest1 "$ROWS"; }

bench_anchor() {
  local t0 t1 TIMEFORMAT='%U %S'
  vdiff_cpu_begin
  t0=$(pm_now)
  { time vdiff_stream_both; } 2>"$VDIFF_DIR/stream.time" || { echo "streaming SELECT failed" >&2; return 1; }
  t1=$(pm_now)
  vdiff_cpu_end anchor "$(awk '{ printf "%.2f", $1 + $2 }' "$VDIFF_DIR/stream.time")"
  awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }'
}

# Both servers stream the whole table at once to /dev/null (two mariadb clients); fails if either does.
vdiff_stream_both() {
  local a b
  MYSQL_PWD="$BENCH_MYSQL_PASSWORD" mariadb --no-defaults --quick -h127.0.0.1 -P"$PM_PORT_vsrc" -ubench -N -B -e "SELECT * FROM sbtest.sbtest1 ORDER BY id" >/dev/null &
  a=$!
  MYSQL_PWD="$BENCH_MYSQL_PASSWORD" mariadb --no-defaults --quick -h127.0.0.1 -P"$PM_PORT_vdst" -ubench -N -B -e "SELECT * FROM sbtest.sbtest1 ORDER BY id" >/dev/null &
  b=$!
  wait "$a" && wait "$b"
}

bench_context() { vdiff_memory rowlevel; }
