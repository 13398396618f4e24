# replication-copy: copy 1M sbtest-shaped rows from one private MariaDB to another with the MoveTables copy as the
# production host runs it (stream create, then one MoveTables.CopyChunk activity body after another:
# ClusterMoveTablesOperations.CopyChunkAsync with the host's default copy budget, 20 s of snapshot per chunk, in
# bench/Durable.Bench replication-copy) against mydumper then myloader end to end.
# Same servers, same data, same settings (innodb_flush_log_at_trx_commit=2, sync_binlog=0, binlog ROW on both);
# both sides single-threaded (one stream; mydumper/myloader -t 1). Wall clock of the whole command(s).
# Ours copies with --defer-secondary-keys (k_1 dropped for the copy and re-added as defined, one index build at the
# end), an engine option an operator sets per workflow, and loads rows with LOAD DATA LOCAL INFILE streamed from
# memory (the engine's default where the target's local_infile is on). Context: the copy process's peak memory (VmHWM).
# BENCH_CHUNK_ROWS sets rows per chunk as DURABLE_COPY_CHUNK_ROWS does on a host (unset: the host's default).
UNIT="rows/s"
ANCHOR="mydumper + myloader (-t 1)"
DESCRIPTION="copy 1M sbtest rows source -> target"
ROWS="${BENCH_ROWS:-1000000}"
CHUNK_ROWS="${BENCH_CHUNK_ROWS:-}" # rows per copy chunk, one snapshot each (empty: the host's default)
THREADS="${BENCH_THREADS:-1}"
for setting in "BENCH_ROWS=$ROWS" "BENCH_THREADS=$THREADS" ${CHUNK_ROWS:+"BENCH_CHUNK_ROWS=$CHUNK_ROWS"}; do
  [[ "${setting#*=}" =~ ^[1-9][0-9]*$ ]] || { echo "replication-copy: ${setting%%=*} is '${setting#*=}': expected a whole number >= 1" >&2; exit 2; }
done
source bench/Durable.Bench/Replication/replication-env.sh
BINLOG_OPTS=(--log-bin=binlog --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL --gtid-strict-mode=1)

bench_setup() {
  repl_build
  pm_build
  pm_start csrc --server-id=11 "${BINLOG_OPTS[@]}"
  pm_start cdst --server-id=12 "${BINLOG_OPTS[@]}"
  pm_sql csrc "CREATE DATABASE sbtest;
    CREATE TABLE sbtest.sbtest1 (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k)) ENGINE=InnoDB;
    INSERT INTO sbtest.sbtest1 SELECT seq, FLOOR(RAND(seq) * $ROWS), CONCAT_WS('-', LPAD(seq, 11, '0'), LPAD(seq * 7, 11, '0'), LPAD(seq * 13, 11, '0'), LPAD(seq * 17, 11, '0'), LPAD(seq * 19, 11, '0'), LPAD(seq * 23, 11, '0'), LPAD(seq * 29, 11, '0'), LPAD(seq * 31, 11, '0'), LPAD(seq * 37, 11, '0'), LPAD(seq * 41, 11, '0')), CONCAT_WS('-', LPAD(seq * 43, 11, '0'), LPAD(seq * 47, 11, '0'), LPAD(seq * 53, 11, '0'), LPAD(seq * 59, 11, '0'), LPAD(seq * 61, 11, '0')) FROM sbtest.seq_1_to_$ROWS;
    ANALYZE TABLE sbtest.sbtest1;" >/dev/null
  pm_sql csrc "SELECT COUNT(*), SUM(LENGTH(c)) FROM sbtest.sbtest1" >/dev/null
  repl_env csrc cdst sbtest sbtest
}

reset_target() { pm_sql cdst "DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS _vt; CREATE DATABASE sbtest;" >/dev/null; }

check_target() {
  local n; n=$(pm_sql cdst "SELECT COUNT(*) FROM sbtest.sbtest1")
  [ "$n" = "$ROWS" ] || { echo "bench: target has $n rows, expected $ROWS" >&2; return 1; }
}

bench_ours() {
  reset_target
  pm_sql cdst "DROP DATABASE sbtest; CREATE DATABASE sbtest;" >/dev/null
  local t0 t1 id
  t0=$(pm_now)
  id=$(dotnet "$REPL_HOST_DLL" create bench commerce customer 0 sbtest1 --defer-secondary-keys 2>"$PM_DIR_cdst/ours.err") || { cat "$PM_DIR_cdst/ours.err" >&2; return 1; }
  DURABLE_COPY_CHUNK_ROWS="$CHUNK_ROWS" dotnet "$BENCH_DLL" replication-copy customer 0 "$id" >"$PM_DIR_cdst/ours.out" 2>>"$PM_DIR_cdst/ours.err" &
  local pid=$! hwm=0 h
  while kill -0 "$pid" 2>/dev/null; do
    h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); [ "${h:-0}" -gt "$hwm" ] && hwm=$h
    sleep 0.2
  done
  wait "$pid" || { cat "$PM_DIR_cdst/ours.err" >&2; return 1; }
  t1=$(pm_now)
  echo "$hwm" >"$PM_DIR_cdst/ours.hwm"
  check_target || return 1
  awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }'
}

bench_anchor() {
  reset_target
  local t0 t1 dump="$PM_DIR_cdst/dump"
  rm -rf "$dump"
  t0=$(pm_now)
  # The password goes through a private defaults file, never the command line.
  local cnf="$PM_DIR_cdst/client.cnf"
  ( umask 077; printf '[client]\nuser=bench\npassword=%s\n[mydumper]\nuser=bench\npassword=%s\n[myloader]\nuser=bench\npassword=%s\n' "$BENCH_MYSQL_PASSWORD" "$BENCH_MYSQL_PASSWORD" "$BENCH_MYSQL_PASSWORD" >"$cnf" )
  mydumper --defaults-file="$cnf" -h 127.0.0.1 -P "$PM_PORT_csrc" -B sbtest -t "$THREADS" -o "$dump" >/dev/null 2>&1 || { echo "mydumper failed" >&2; return 1; }
  # -e (--enable-binlog): myloader turns the binary log off for its sessions by default; our copy must binlog (the
  # target's replicas and later streams read it), so the anchor writes the same binlog as ours for a fair comparison.
  myloader --defaults-file="$cnf" -h 127.0.0.1 -P "$PM_PORT_cdst" -d "$dump" -B sbtest -t "$THREADS" -o -e >/dev/null 2>&1 || { echo "myloader failed" >&2; return 1; }
  t1=$(pm_now)
  check_target || return 1
  awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }'
}

bench_context() {
  echo "   pinned: rows=$ROWS threads=$THREADS chunk=${CHUNK_ROWS:-default} (DURABLE_COPY_CHUNK_ROWS) innodb_flush_log_at_trx_commit=2 sync_binlog=0 binlog ROW/FULL on both servers, myloader -e (its rows binlogged as ours are); ours --defer-secondary-keys, loading with LOAD DATA LOCAL INFILE (target local_infile=$(pm_sql cdst "SELECT @@local_infile"), MariaDB's default)"
  echo "   ours (last run): $(cat "$PM_DIR_cdst/ours.out"); copy process peak memory (VmHWM) $(cat "$PM_DIR_cdst/ours.hwm") kB"
  echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  reset_target
  local t0 t1
  t0=$(pm_now)
  MYSQL_PWD="$BENCH_MYSQL_PASSWORD" mariadb-dump --no-defaults -h127.0.0.1 -P"$PM_PORT_csrc" -ubench --single-transaction sbtest sbtest1 2>/dev/null \
    | MYSQL_PWD="$BENCH_MYSQL_PASSWORD" mariadb --no-defaults -h127.0.0.1 -P"$PM_PORT_cdst" -ubench sbtest 2>/dev/null
  t1=$(pm_now)
  echo "   for context, mariadb-dump --single-transaction | mariadb: $(awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", r / (b - a) }') rows/s"
}

bench_teardown() { pm_stop csrc; pm_stop cdst; rm -f "${REPL_TABLETS:-}"; }
