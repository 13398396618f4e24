# Helpers of the vdiff-* benchmarks (sourced): two private MariaDB servers holding the same sbtest-shaped tables,
# sbtest1 (BENCH_ROWS rows, default 1M) and sbtest2 (a quarter of that, for the memory-vs-size check), and the
# VDiff driver (tests/VDiff.Tests, Release: `dotnet Durable.VDiff.Tests.dll bench ...`).
source bench/Durable.Bench/MySql/private-mariadb.sh
VDIFF_BENCH_DLL="tests/VDiff.Tests/bin/Release/net10.0/Durable.VDiff.Tests.dll"
ROWS="${BENCH_ROWS:-1000000}"
SMALL_ROWS=$((ROWS / 4))
CHUNK_ROWS="${BENCH_CHUNK_ROWS:-10000}"

vdiff_load() { # vdiff_load SERVER TABLE ROWS: the replication benchmarks' sbtest rows (deterministic, so both servers hold the same)
  pm_sql "$1" "CREATE DATABASE IF NOT EXISTS sbtest;
    CREATE TABLE sbtest.$2 (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k)) ENGINE=InnoDB;
    INSERT INTO sbtest.$2 SELECT seq, FLOOR(RAND(seq) * $3), CONCAT_WS('-', LPAD(seq, 11, '0'), LPAD(seq * 7, 11, '0'), LPAD(seq * 13, 11, '0'), LPAD(seq * 17, 11, '0'), LPAD(seq * 19, 11, '0'), LPAD(seq * 23, 11, '0'), LPAD(seq * 29, 11, '0'), LPAD(seq * 31, 11, '0'), LPAD(seq * 37, 11, '0'), LPAD(seq * 41, 11, '0')), CONCAT_WS('-', LPAD(seq * 43, 11, '0'), LPAD(seq * 47, 11, '0'), LPAD(seq * 53, 11, '0'), LPAD(seq * 59, 11, '0'), LPAD(seq * 61, 11, '0')) FROM sbtest.seq_1_to_$3;
    ANALYZE TABLE sbtest.$2;" >/dev/null
}

vdiff_setup() {
  dotnet build tests/VDiff.Tests -c Release -v q -nologo >/dev/null || { echo "building tests/VDiff.Tests failed" >&2; return 1; }
  pm_start vsrc --server-id=21 --log-bin=binlog --binlog-format=ROW
  pm_start vdst --server-id=22 --log-bin=binlog --binlog-format=ROW
  local s
  for s in vsrc vdst; do
    vdiff_load "$s" sbtest1 "$ROWS"
    vdiff_load "$s" sbtest2 "$SMALL_ROWS"
    # Warm the buffer pool on both sides, so no run pays the first read from disk.
    pm_sql "$s" "SELECT COUNT(*), SUM(LENGTH(c)), SUM(LENGTH(pad)) FROM sbtest.sbtest1; SELECT COUNT(*), SUM(LENGTH(c)) FROM sbtest.sbtest2" >/dev/null
  done
  export VDIFF_BENCH_USER=bench VDIFF_BENCH_PASSWORD="$BENCH_MYSQL_PASSWORD"
  VDIFF_DIR="$PM_DIR_vdst"
}

vdiff_teardown() { pm_stop vsrc; pm_stop vdst; }

# vdiff_ours MODE TABLE ROWS: one VDiff run, wall clock of the whole command; its peak memory (VmHWM, kB) goes to
# $VDIFF_DIR/MODE-TABLE.hwm and its totals line to $VDIFF_DIR/MODE-TABLE.out. Prints rows/s.
vdiff_ours() {
  local mode=$1 table=$2 rows=$3 t0 t1 pid hwm=0 h
  t0=$(pm_now)
  # DOTNET_TieredPGO=0: no instrumented tier in a run of a few seconds (as mysql-binlog): measured 0.95 s of process CPU
  # instead of 1.2-1.5 s for 1M rows (most of the rest is JIT and start-up, ~0.45 s, which a long-lived host pays once).
  DOTNET_TieredPGO=0 dotnet "$VDIFF_BENCH_DLL" bench "$mode" 127.0.0.1 "$PM_PORT_vsrc" "$PM_PORT_vdst" sbtest "$table" "$CHUNK_ROWS" >"$VDIFF_DIR/$mode-$table.out" 2>"$VDIFF_DIR/$mode-$table.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); [ "${h:-0}" -gt "$hwm" ] && hwm=$h
    sleep 0.1
  done
  wait "$pid" || { cat "$VDIFF_DIR/$mode-$table.err" >&2; return 1; }
  t1=$(pm_now)
  echo "$hwm" >"$VDIFF_DIR/$mode-$table.hwm"
  grep -q "compared $((rows)), matching $((rows))," "$VDIFF_DIR/$mode-$table.out" \
    || { echo "vdiff: unexpected totals: $(head -1 "$VDIFF_DIR/$mode-$table.out")" >&2; return 1; }
  awk -v r="$rows" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }'
}

# vdiff_memory MODE: the context lines: peak memory at both sizes (a diff in constant memory shows about the same).
vdiff_memory() {
  vdiff_ours "$1" sbtest2 "$SMALL_ROWS" >/dev/null
  echo "   ours (last $ROWS-row run): $(head -1 "$VDIFF_DIR/$1-sbtest1.out")"
  echo "   peak memory (VmHWM) of the VDiff process: $(cat "$VDIFF_DIR/$1-sbtest1.hwm") kB at $ROWS rows, $(cat "$VDIFF_DIR/$1-sbtest2.hwm") kB at $SMALL_ROWS rows"
  echo "   pinned: chunk rows $CHUNK_ROWS, private servers (innodb_buffer_pool_size=512M, warmed), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}
