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

# CPU seconds (user + system) a private server has used so far, from /proc.
vdiff_server_cpu() { local pid_var="PM_DIR_$1"; awk '{ printf "%.2f\n", ($14 + $15) / 100 }' "/proc/$(cat "${!pid_var}/pid")/stat"; }

# vdiff_cpu_begin / vdiff_cpu_end LABEL: CPU seconds both servers spent between the two calls, to $VDIFF_DIR/LABEL.cpu
# (with the client's, when given as a third field), so the context shows where each side's time went on a loaded machine.
vdiff_cpu_begin() { VDIFF_CPU0="$(vdiff_server_cpu vsrc) $(vdiff_server_cpu vdst)"; }
vdiff_cpu_end() {
  local label=$1 client=${2:-?}
  awk -v a="$VDIFF_CPU0" -v s="$(vdiff_server_cpu vsrc)" -v d="$(vdiff_server_cpu vdst)" -v c="$client" \
    'BEGIN { split(a, x, " "); printf "source server %.2f s, target server %.2f s, client %s s\n", s - x[1], d - x[2], c }' >"$VDIFF_DIR/$label.cpu"
}

# vdiff_ours MODE TABLE ROWS: one VDiff run, wall clock of the whole command; the driver's totals, its CPU and peak memory
# (VmHWM, read by the process itself at its end) go to $VDIFF_DIR/MODE-TABLE.out, both servers' CPU to
# $VDIFF_DIR/MODE-TABLE.cpu. Prints rows/s.
vdiff_ours() {
  local mode=$1 table=$2 rows=$3 t0 t1
  vdiff_cpu_begin
  t0=$(pm_now)
  # DOTNET_TC_CallCountThreshold=10000: a profile (perf) of the driver showed ~70 % of its CPU in the JIT and the
  # runtime, mostly re-compiling at tier 1 code that runs ~100 times (once per chunk) in a run of a few seconds; a
  # long-lived host pays that once, not per VDiff. Measured at load 6, 1M rows, checksum: process CPU 0.41-0.47 s instead
  # of 0.55-1.10 s. Code that runs per row still reaches tier 1 (10,000 calls). DOTNET_TieredPGO=0 (as mysql-binlog) and
  # DOTNET_TieredCompilation=0 made no clear difference here (0.78-0.87 and 0.83-0.86 s); the process allocates ~3.5 MB
  # in all, so no gen0 setting either.
  DOTNET_TC_CallCountThreshold=10000 dotnet "$VDIFF_BENCH_DLL" bench "$mode" 127.0.0.1 "$PM_PORT_vsrc" "$PM_PORT_vdst" sbtest "$table" "$CHUNK_ROWS" >"$VDIFF_DIR/$mode-$table.out" 2>"$VDIFF_DIR/$mode-$table.err" \
    || { cat "$VDIFF_DIR/$mode-$table.err" >&2; return 1; }
  t1=$(pm_now)
  vdiff_cpu_end "$mode-$table" "$(awk '/^process: cpu/ { print $3 }' "$VDIFF_DIR/$mode-$table.out")"
  grep -q "compared $((rows)), matching $((rows))," "$VDIFF_DIR/$mode-$table.out" \
    || { echo "vdiff: unexpected totals: $(head -1 "$VDIFF_DIR/$mode-$table.out")" >&2; return 1; }
  awk -v r="$rows" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }'
}

vdiff_hwm() { awk '/^process: cpu/ { print $6 }' "$VDIFF_DIR/$1.out"; }

# vdiff_memory MODE: the context lines: peak memory at both sizes (a diff in constant memory shows about the same) and
# where the CPU went in the last run of each side.
vdiff_memory() {
  vdiff_ours "$1" sbtest2 "$SMALL_ROWS" >/dev/null
  echo "   ours (last $ROWS-row run): $(head -1 "$VDIFF_DIR/$1-sbtest1.out")"
  echo "   $(grep '^memory:' "$VDIFF_DIR/$1-sbtest1.out")"
  echo "   CPU of the last runs: ours: $(cat "$VDIFF_DIR/$1-sbtest1.cpu"); anchor: $(cat "$VDIFF_DIR/anchor.cpu" 2>/dev/null || echo '?')"
  echo "   peak memory (VmHWM) of the VDiff process: $(vdiff_hwm "$1-sbtest1") kB at $ROWS rows, $(vdiff_hwm "$1-sbtest2") kB at $SMALL_ROWS rows"
  echo "   pinned: chunk rows $CHUNK_ROWS, private servers (innodb_buffer_pool_size=512M, warmed), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}
