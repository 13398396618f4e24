# mysql-read: stream 1M rows of an sbtest-shaped table (id INT PK, k INT, c CHAR(120), pad CHAR(60)) through our
# client (Durable.MySql text protocol reader, every value touched) against `mariadb --quick` writing to /dev/null.
# Both sides are timed the same way: wall clock of the whole command, process start included.
UNIT="rows/s"
ANCHOR="mariadb --quick"
DESCRIPTION="read 1M sbtest rows, streaming"
ROWS="${BENCH_ROWS:-1000000}"
QUERY="SELECT id, k, c, pad FROM sbtest.sbtest1"
source bench/Durable.Bench/MySql/private-mariadb.sh

bench_setup() {
  pm_build
  pm_start read
  pm_sql read "CREATE DATABASE sbtest;
    CREATE TABLE sbtest.sbtest1 (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k)) ENGINE=InnoDB;
    INSERT INTO sbtest.sbtest1 SELECT seq, FLOOR(RAND(seq) * $ROWS), CONCAT_WS('-', LPAD(seq, 11, '0'), LPAD(seq * 7, 11, '0'), LPAD(seq * 13, 11, '0'), LPAD(seq * 17, 11, '0'), LPAD(seq * 19, 11, '0'), LPAD(seq * 23, 11, '0'), LPAD(seq * 29, 11, '0'), LPAD(seq * 31, 11, '0'), LPAD(seq * 37, 11, '0'), LPAD(seq * 41, 11, '0')), CONCAT_WS('-', LPAD(seq * 43, 11, '0'), LPAD(seq * 47, 11, '0'), LPAD(seq * 53, 11, '0'), LPAD(seq * 59, 11, '0'), LPAD(seq * 61, 11, '0')) FROM sbtest.seq_1_to_$ROWS;
    ANALYZE TABLE sbtest.sbtest1;" >/dev/null
  # Warm the buffer pool so both sides read from memory.
  pm_sql read "SELECT COUNT(*), SUM(LENGTH(c)) FROM sbtest.sbtest1" >/dev/null
  export BENCH_MYSQL_PORT=$PM_PORT_read BENCH_MYSQL_USER=bench
}

bench_ours() {
  local t0 t1
  t0=$(pm_now)
  dotnet "$BENCH_DLL" mysql-read "$QUERY" >/dev/null 2>"$PM_DIR_read/ours.err" || { cat "$PM_DIR_read/ours.err" >&2; return 1; }
  t1=$(pm_now)
  awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }'
}

bench_anchor() {
  local t0 t1
  t0=$(pm_now)
  MYSQL_PWD="$BENCH_MYSQL_PASSWORD" mariadb --no-defaults --quick -h127.0.0.1 -P"$PM_PORT_read" -ubench -e "$QUERY" >/dev/null
  t1=$(pm_now)
  awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }'
}

bench_context() {
  echo "   ours (last run): $(cat "$PM_DIR_read/ours.err")"
}

bench_teardown() { pm_stop read; }
