# mysql-binlog: fetch and decode the binlog of 1M row changes (sbtest-shaped inserts in 10k-row transactions) with
# Durable.MySql's BinlogStream (every row decoded into SELECT-form values) against a native MariaDB replica's IO
# thread fetching the same binlog into its relay log (SQL thread stopped). Both from the same private source server.
# Equivalent timed regions, both measured inside an already-running process:
#   anchor  from START SLAVE IO_THREAD (sent on an open connection to the running replica) until a poll (every 1 ms)
#           sees Gtid_IO_Pos = the last transaction;
#   ours    from the start of the benchmark program's Main, before the connection opens, until the last
#           transaction's rows are decoded and its commit read: connect, register, dump and every JIT compilation
#           of a fresh process are inside; the runtime's own process start (the part the running replica has
#           already done) is not. It is printed as context, with the whole-command rate that includes it.
# Ours runs with two runtime settings a long-running Streamer host should use too:
#   DOTNET_TieredPGO=0           no instrumented tier: the decode path is compiled optimised at once anyway
#                                (AggressiveOptimization, pre-compiled on another core while connecting); the rest
#                                starts with the quick JIT, which keeps start-up short
#   DOTNET_GCgen0size=0x2000000  a 32 MiB gen0 budget: this machine reports a 480 MiB L3, from which the GC would size
#                                gen0 at >100 MiB, touching fresh pages for every value instead of reusing cached ones
#                                (peak working set 134 MiB). 6 MiB (the earlier setting) made 63 GCs, nearly all gen1
#                                and 10-20 gen2, because each promoted the up to 4 MiB of read-ahead slabs in flight
#                                (0.14-0.22 s of GC pauses at load 50); 32 MiB: 11 GCs, 0.03-0.07 s, 87 MiB peak
UNIT="rows/s"
ANCHOR="MariaDB replica IO thread"
DESCRIPTION="fetch + decode the binlog of 1M row changes"
ROWS="${BENCH_ROWS:-1000000}"
source bench/Durable.Bench/MySql/private-mariadb.sh

bench_setup() {
  pm_build
  pm_start src --log-bin=bin --server-id=1 --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL \
    --gtid-strict-mode=1 --max-binlog-size=1G --sync-binlog=0
  pm_start rep --server-id=2 --gtid-strict-mode=1 --relay-log=relay --skip-slave-start --max-relay-log-size=1G
  pm_sql src "CREATE DATABASE sbtest;
    CREATE TABLE sbtest.sbtest1 (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k)) ENGINE=InnoDB;"
  START_POS=$(pm_sql src "SELECT @@global.gtid_binlog_pos")
  local sql="" from to batch=10000
  for ((from = 1; from <= ROWS; from += batch)); do
    to=$((from + batch - 1)); [ "$to" -gt "$ROWS" ] && to=$ROWS
    sql+="INSERT INTO sbtest.sbtest1 SELECT seq, FLOOR(RAND(seq) * $ROWS), CONCAT_WS('-', LPAD(seq, 11, '0'), LPAD(seq * 7, 11, '0'), LPAD(seq * 13, 11, '0'), LPAD(seq * 17, 11, '0'), LPAD(seq * 19, 11, '0'), LPAD(seq * 23, 11, '0'), LPAD(seq * 29, 11, '0'), LPAD(seq * 31, 11, '0'), LPAD(seq * 37, 11, '0'), LPAD(seq * 41, 11, '0')), CONCAT_WS('-', LPAD(seq * 43, 11, '0'), LPAD(seq * 47, 11, '0'), LPAD(seq * 53, 11, '0'), LPAD(seq * 59, 11, '0'), LPAD(seq * 61, 11, '0')) FROM sbtest.seq_${from}_to_${to};"$'\n'
  done
  pm_sql src "$sql"
  END_POS=$(pm_sql src "SELECT @@global.gtid_binlog_pos")
  BINLOG_BYTES=$(pm_sql src "SHOW BINARY LOGS" | awk '{s += $2} END {print s}')
  export BENCH_MYSQL_PORT=$PM_PORT_src BENCH_MYSQL_USER=bench START_POS END_POS
}

bench_ours() {
  local t0 t1
  t0=$(pm_now)
  DOTNET_TieredPGO=0 DOTNET_GCgen0size=0x2000000 dotnet "$BENCH_DLL" mysql-binlog "$START_POS" "$END_POS" "$ROWS" \
    >"$PM_DIR_src/ours.out" 2>"$PM_DIR_src/ours.err" || { cat "$PM_DIR_src/ours.err" >&2; return 1; }
  t1=$(pm_now)
  awk -v r="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", r / (b - a) }' >"$PM_DIR_src/ours.whole"
  tail -n 1 "$PM_DIR_src/ours.out"
}

bench_anchor() {
  pm_sql rep "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_slave_pos = '$START_POS';
    CHANGE MASTER TO master_host = '127.0.0.1', master_port = $PM_PORT_src, master_user = 'bench',
      master_password = '$BENCH_MYSQL_PASSWORD', master_use_gtid = slave_pos;"
  BENCH_MYSQL_PORT=$PM_PORT_rep dotnet "$BENCH_DLL" mysql-binlog-anchor "$END_POS" "$ROWS" 2>"$PM_DIR_rep/anchor.err" \
    || { cat "$PM_DIR_rep/anchor.err" >&2; return 1; }
}

bench_context() {
  echo "   binlog from $START_POS to $END_POS, $BINLOG_BYTES bytes of binlog files"
  echo "   timed regions: both from the start command inside a running process (anchor: START SLAVE IO_THREAD on the"
  echo "   running replica; ours: Main, before connecting, all JIT inside) to the last transaction received"
  echo "   ours (last run): $(cat "$PM_DIR_src/ours.err")"
  echo "   ours (last run) timed as the whole command, runtime start included: $(cat "$PM_DIR_src/ours.whole") rows/s"
  echo "   anchor (last run): $(cat "$PM_DIR_rep/anchor.err")"
}

bench_teardown() { pm_stop src; pm_stop rep; }
