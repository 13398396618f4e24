# replication-catchup: catch up a backlog of ~1M row events written by a sysbench write workload (oltp_write_only:
# per transaction an indexed UPDATE, a non-indexed UPDATE, a DELETE and an INSERT) with the Streamer (a stream
# created at the position before the backlog, over a target already holding the rows as of that position) against a
# native MariaDB replica catching up on the same backlog from the same position (single SQL thread, as one stream).
# Private servers: source, our target and the replica, all with innodb_flush_log_at_trx_commit=2, sync_binlog=0,
# binlog ROW/FULL; the replica logs what it applies (log_slave_updates) as our target's binlog does.
# Timed: ours from the Streamer's launch until the stream position holds the backlog's end; the replica from
# START SLAVE until MASTER_GTID_WAIT(end) returns. Context: the Streamer's peak memory (VmHWM) per run, and on a
# backlog a quarter the size, so flatness in backlog size is visible, and after the timed runs on a table
# BENCH_BIG_TABLE_FACTOR (10) times larger with a quarter-size backlog, so flatness in table size is visible too.
# Each run also prints the Streamer's own phase profile (ApplyProfile) and the durability settings of all three servers.
UNIT="row events/s"
ANCHOR="native MariaDB replica (1 SQL thread)"
EVENTS="${BENCH_EVENTS:-1000000}"
DESCRIPTION="catch up a sysbench write backlog of ~$EVENTS row events (BENCH_EVENTS; the acceptance size is 1000000)"
TABLE_ROWS="${BENCH_TABLE_ROWS:-100000}"
# The memory check's second table size (after the timed runs): a table this many times larger, same backlog size.
BIG_FACTOR="${BENCH_BIG_TABLE_FACTOR:-10}"
source bench/Durable.Bench/Replication/replication-env.sh
BINLOG_OPTS=(--log-bin=binlog --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL --gtid-strict-mode=1 --sync-binlog=0 --max-binlog-size=1G)
STREAMER_DLL="src/Streamer/bin/Release/net10.0/Durable.Streamer.dll"

gtid_seq() { sed -E 's/^MariaDB\///; s/.*-([0-9]+)$/\1/'; } # one-domain position -> its sequence number

bench_setup() {
  repl_build
  dotnet build src/Streamer -c Release -v q -nologo >/dev/null || { echo "building src/Streamer failed" >&2; return 1; }
  pm_start ksrc --server-id=21 "${BINLOG_OPTS[@]}"
  pm_start kdst --server-id=22 "${BINLOG_OPTS[@]}"
  pm_start krep --server-id=23 "${BINLOG_OPTS[@]}" --log-slave-updates --skip-slave-start --slave-parallel-threads=0
  prepare_source "$TABLE_ROWS" || return 1
  local sb=("${SB[@]}")
  # The backlog in four parts; the position after the first is the smaller backlog of the memory check.
  local part tx=$((EVENTS / 4 / 4))
  for part in 1 2 3 4; do
    "${sb[@]}" --threads=4 --events="$tx" --time=0 run >"$PM_DIR_kdst/sysbench-$part.out" 2>&1 || { echo "sysbench run failed" >&2; cat "$PM_DIR_kdst/sysbench-$part.out" >&2; return 1; }
    [ "$part" = 1 ] && QUARTER_POS=$(pm_sql ksrc "SELECT @@global.gtid_binlog_pos")
  done
  # Row events actually in the backlog (sysbench's write count: one row event per statement here; the Streamer's
  # profile counts the same). Statements that hit an ignored duplicate key write nothing (about 3.7 row events per
  # transaction once the table has churned), so top the backlog up to the size asked for.
  ROW_EVENTS=$(awk '/write:/ {s += $2} END {print s}' "$PM_DIR_kdst"/sysbench-*.out)
  if [ "$ROW_EVENTS" -lt "$EVENTS" ]; then
    "${sb[@]}" --threads=4 --events=$(( (EVENTS - ROW_EVENTS) * 10 / 35 + 1 )) --time=0 run >"$PM_DIR_kdst/sysbench-5.out" 2>&1 || { echo "sysbench run failed" >&2; cat "$PM_DIR_kdst/sysbench-5.out" >&2; return 1; }
    ROW_EVENTS=$(awk '/write:/ {s += $2} END {print s}' "$PM_DIR_kdst"/sysbench-*.out)
  fi
  END_POS=$(pm_sql ksrc "SELECT @@global.gtid_binlog_pos")
  QUARTER_EVENTS=$(awk '/write:/ {print $2}' "$PM_DIR_kdst/sysbench-1.out")
  repl_env ksrc kdst sbtest sbtest
  # The Streamer runs with its production settings: its runtimeconfig (tiered JIT without PGO, workstation GC), the
  # default poll interval (the stream exists before the launch and the first scan is immediate, so it adds nothing;
  # the process start is inside our time) and the default throttle (checked at most once a second: the source's
  # history list length, and no target replicas here to lag).
  MEMORY_LOG="$PM_DIR_kdst/vmhwm.log"; : >"$MEMORY_LOG"
  PROFILE_LOG="$PM_DIR_kdst/profile.log"; : >"$PROFILE_LOG"
  pm_sql krep "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$PM_PORT_ksrc, MASTER_USER='bench', MASTER_PASSWORD='$BENCH_MYSQL_PASSWORD', MASTER_USE_GTID=slave_pos"
}

# (Re)creates the source table with $1 rows and the target's base copy of it; sets SB, BASE_SQL and START_POS.
prepare_source() {
  pm_sql ksrc "DROP DATABASE IF EXISTS sbtest; CREATE DATABASE sbtest"
  # Root over the private socket: no password on any command line.
  SB=(sysbench oltp_write_only --db-driver=mysql --mysql-socket="$PM_SOCK_ksrc" --mysql-user=root --mysql-db=sbtest
      --tables=1 --table-size="$1" --rand-type=uniform --rand-seed=42 --mysql-ignore-errors=1062,1213,1205)
  "${SB[@]}" prepare >/dev/null || { echo "sysbench prepare failed" >&2; return 1; }
  BASE_SQL="$PM_DIR_kdst/base.sql"
  mariadb-dump --no-defaults -S "$PM_SOCK_ksrc" -uroot --single-transaction --skip-add-locks sbtest sbtest1 >"$BASE_SQL"
  START_POS=$(pm_sql ksrc "SELECT @@global.gtid_binlog_pos")
}

# The target as of START_POS, written without binlogging (it is the copy a stream would have made).
reset_base() {
  local sock_var="PM_SOCK_$1"
  { echo "SET sql_log_bin = 0; DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS _vt; CREATE DATABASE sbtest; USE sbtest;"; cat "$BASE_SQL"; } \
    | mariadb --no-defaults -S "${!sock_var}" -uroot -N -B
}

# Runs the Streamer on a fresh stream from START_POS until its position reaches $1; prints seconds and VmHWM (kB).
streamer_catchup() {
  local until_seq; until_seq=$(gtid_seq <<<"$1")
  reset_base kdst
  export Streamer__TopologyRoot="/durable-bench-catchup-$$-$RANDOM"
  local id; id=$(dotnet "$REPL_HOST_DLL" create bench commerce customer 0 sbtest1 "MariaDB/$START_POS" 2>"$PM_DIR_kdst/ours.err") || { cat "$PM_DIR_kdst/ours.err" >&2; return 1; }
  local t0 t1 pid pos hwm=0 h
  t0=$(pm_now)
  # No HTTP listener: the cluster's own Streamer may hold the default port.
  Streamer__HttpPort=0 dotnet "$STREAMER_DLL" >"$PM_DIR_kdst/streamer.out" 2>&1 &
  pid=$!
  local row state
  while :; do
    # One light query per 0.2 s (the poll must not compete for the CPU it measures).
    row=$(pm_sql kdst "SELECT pos, state, message FROM _vt.vreplication WHERE id = $id" 2>/dev/null || true)
    pos=${row%%$'\t'*}; state=$(cut -f2 <<<"$row")
    h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); [ "${h:-0}" -gt "$hwm" ] && hwm=$h
    if [ -n "$pos" ] && [ "$(gtid_seq <<<"$pos")" -ge "$until_seq" ]; then break; fi
    kill -0 "$pid" 2>/dev/null || { echo "the Streamer exited:" >&2; tail -20 "$PM_DIR_kdst/streamer.out" >&2; return 1; }
    [ "$state" = "Error" ] && { echo "stream error: $row" >&2; kill "$pid"; return 1; }
    sleep 0.2
  done
  t1=$(pm_now)
  h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status"); [ "$h" -gt "$hwm" ] && hwm=$h
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  # The Streamer's own phase timings of this run (its last apply profile line), printed with the context.
  grep -o 'apply profile: .*' "$PM_DIR_kdst/streamer.out" | tail -1 | sed "s/^/backlog to seq $until_seq: /" >>"$PROFILE_LOG" || true
  echo "$t0 $t1 $hwm"
}

check_equal() { # target table equals the source's (only meaningful at END_POS)
  local a b
  a=$(pm_sql ksrc "CHECKSUM TABLE sbtest.sbtest1" | awk '{print $2}'); b=$(pm_sql "$1" "CHECKSUM TABLE sbtest.sbtest1" | awk '{print $2}')
  [ "$a" = "$b" ] || { echo "bench: $1 sbtest1 checksum $b differs from the source's $a" >&2; return 1; }
}

bench_ours() {
  local r; r=$(streamer_catchup "$END_POS") || return 1
  read -r t0 t1 hwm <<<"$r"
  echo "backlog $ROW_EVENTS events: VmHWM ${hwm} kB" >>"$MEMORY_LOG"
  check_equal kdst || return 1
  awk -v n="$ROW_EVENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}

bench_anchor() {
  pm_sql krep "STOP SLAVE; RESET MASTER;" >/dev/null
  reset_base krep
  pm_sql krep "SET GLOBAL gtid_slave_pos = '$START_POS'" >/dev/null
  local t0 t1 r
  t0=$(pm_now)
  r=$(pm_sql krep "START SLAVE; SELECT MASTER_GTID_WAIT('$END_POS', 3600);")
  t1=$(pm_now)
  [ "$r" = "0" ] || { echo "bench: the replica did not reach $END_POS ($r): $(pm_sql krep 'SHOW SLAVE STATUS\G' | grep -E 'Last_.*Error' | head -3)" >&2; return 1; }
  pm_sql krep "STOP SLAVE" >/dev/null
  check_equal krep || return 1
  awk -v n="$ROW_EVENTS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}

bench_context() {
  echo "   pinned: table rows=$TABLE_ROWS, backlog $ROW_EVENTS row events ($START_POS -> $END_POS), sysbench oltp_write_only 4 threads uniform seed 42;"
  echo "           innodb_flush_log_at_trx_commit=2 sync_binlog=0 binlog ROW/FULL on all three; replica slave_parallel_threads=0, log_slave_updates=ON; one stream"
  local r; r=$(streamer_catchup "$QUARTER_POS") || return 1
  read -r _ _ hwm <<<"$r"
  echo "   Streamer peak memory (VmHWM), table $TABLE_ROWS rows: $(paste -sd';' "$MEMORY_LOG"); backlog $QUARTER_EVENTS events: VmHWM ${hwm} kB"
  # Second table size: the source table rebuilt $BIG_FACTOR times larger, a backlog of the same quarter size.
  local big=$((TABLE_ROWS * BIG_FACTOR)) big_end big_events
  prepare_source "$big" || return 1
  "${SB[@]}" --threads=4 --events=$((EVENTS / 4 / 4)) --time=0 run >"$PM_DIR_kdst/sysbench-big.out" 2>&1 || { echo "sysbench run failed" >&2; return 1; }
  big_end=$(pm_sql ksrc "SELECT @@global.gtid_binlog_pos"); big_events=$(awk '/write:/ {print $2}' "$PM_DIR_kdst/sysbench-big.out")
  r=$(streamer_catchup "$big_end") || return 1
  read -r t0 t1 hwm <<<"$r"
  check_equal kdst || return 1
  echo "   Streamer peak memory (VmHWM), table $big rows: backlog $big_events events: VmHWM ${hwm} kB ($(awk -v n="$big_events" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }') events/s)"
  echo "   durability, as set: ours (target) innodb_flush_log_at_trx_commit,sync_binlog = $(pm_sql kdst 'SELECT @@innodb_flush_log_at_trx_commit, @@sync_binlog' | tr '\t' ','); replica = $(pm_sql krep 'SELECT @@innodb_flush_log_at_trx_commit, @@sync_binlog' | tr '\t' ','); source = $(pm_sql ksrc 'SELECT @@innodb_flush_log_at_trx_commit, @@sync_binlog' | tr '\t' ',')"
  echo "   Streamer apply profiles (phase times of each run):"
  sed 's/^/     /' "$PROFILE_LOG"
  echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench_teardown() { pm_stop ksrc; pm_stop kdst; pm_stop krep; rm -f "${REPL_TABLETS:-}"; }
