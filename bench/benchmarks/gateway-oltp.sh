# gateway-oltp: sysbench oltp_read_write through a gateway against sysbench directly on the primary, same threads,
# tables and duration (the issue's goal: through the gateway >= 0.7 of direct). ours = transactions/s through the
# gateway, anchor = transactions/s direct, both as the cluster's app account (durable_app; the gateway logs in to the
# tablet with it too), on a private database vt_sbbench on the commerce primary. The gateway is a private one on a
# private topology root where keyspace sbbench is that database, so the shared cluster's tables, rules and gateways are
# not touched. Prepare and cleanup run directly as the dba account (the app account may not CREATE or DROP).
# Settings: SB_THREADS (8), SB_TABLES (4), SB_TABLE_SIZE (10000), SB_TIME (20 s per run), GATEWAY_SKIP_BUILD=1.
UNIT="tps"
ANCHOR="sysbench direct on the primary"
DESCRIPTION="sysbench oltp_read_write, ${SB_THREADS:-8} threads, ${SB_TABLES:-4}x${SB_TABLE_SIZE:-10000} rows, ${SB_TIME:-20} s, via a gateway (goal ratio >= 0.7)"
SB_THREADS="${SB_THREADS:-8}"
SB_TABLES="${SB_TABLES:-4}"
SB_TABLE_SIZE="${SB_TABLE_SIZE:-10000}"
SB_TIME="${SB_TIME:-20}"
# shellcheck source=../lib/gateway.sh
. bench/lib/gateway.sh

# A sysbench options file (mode 600) per side: the passwords stay off the command line.
oltp_options() { # file host port user password db
  (umask 077; printf 'db-driver=mysql\nmysql-host=%s\nmysql-port=%s\nmysql-user=%s\nmysql-password=%s\nmysql-db=%s\nmysql-ssl=off\ntables=%s\ntable-size=%s\nthreads=%s\ntime=%s\nreport-interval=0\n' \
    "$2" "$3" "$4" "$5" "$6" "$SB_TABLES" "$SB_TABLE_SIZE" "$SB_THREADS" "$SB_TIME" > "$1")
}

bench_setup() {
  eval "$(./infra/local/cluster.sh env)"
  if [ "${GATEWAY_SKIP_BUILD:-0}" != 1 ]; then
    for p in src/Gateway bench/Durable.Bench; do
      dotnet build "$p" -c Release -v quiet -nologo >/dev/null || { echo "gateway-oltp: building $p failed" >&2; return 1; }
    done
  fi
  OLTP_DIR="$(mktemp -d -t durable-gateway-oltp.XXXXXX)"
  OLTP_ROOT="/durable-bench/oltp$$$(date +%s)"
  local host port
  host=$(python3 -c 'import json,sys; t=[t for t in json.load(open(sys.argv[1]))["tablets"] if t["uid"]==100][0]; print(t["host"], t["port"])' "$DURABLE_CLUSTER_FILE")
  port=${host#* }; host=${host% *}
  # The private keyspace: one PRIMARY tablet, the commerce primary's server, database vt_sbbench.
  python3 - "$DURABLE_CLUSTER_FILE" "$OLTP_DIR/cluster.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
t = [t for t in c["tablets"] if t["uid"] == 100][0]
t = dict(t, keyspace="sbbench", shard="0", type="PRIMARY", dbName="vt_sbbench", primaryUid=None)
json.dump({"cell": c["cell"], "etcd": c["etcd"], "accounts": c["accounts"], "tablets": [t]}, open(sys.argv[2], "w"))
PY
  tablet 100 -e 'DROP DATABASE IF EXISTS vt_sbbench; CREATE DATABASE vt_sbbench'
  dotnet bench/Durable.Bench/bin/Release/net10.0/Durable.Bench.dll topology-register "$OLTP_DIR/cluster.json" "$DURABLE_ETCD_ENDPOINTS" "$OLTP_ROOT" 2>"$OLTP_DIR/register.log" \
    || { cat "$OLTP_DIR/register.log" >&2; echo "gateway-oltp: registering keyspace sbbench under $OLTP_ROOT failed" >&2; return 1; }
  local client_password; client_password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
  bench_gateway_start "$OLTP_DIR" oltp-gateway "$OLTP_ROOT" sbbench "$client_password" || return 1
  local dba_password app_password
  dba_password=$(grep '^DURABLE_DBA_PASSWORD=' "$DURABLE_SECRETS_FILE" | cut -d= -f2-)
  app_password=$(grep '^DURABLE_APP_PASSWORD=' "$DURABLE_SECRETS_FILE" | cut -d= -f2-)
  oltp_options "$OLTP_DIR/prepare.conf" "$host" "$port" durable_dba "$dba_password" vt_sbbench
  oltp_options "$OLTP_DIR/direct.conf" "$host" "$port" durable_app "$app_password" vt_sbbench
  oltp_options "$OLTP_DIR/gateway.conf" 127.0.0.1 "$BENCH_GATEWAY_PORT" sbbench "$client_password" sbbench
  sysbench --config-file="$OLTP_DIR/prepare.conf" oltp_read_write prepare >"$OLTP_DIR/prepare.log" 2>&1 \
    || { tail -20 "$OLTP_DIR/prepare.log" >&2; echo "gateway-oltp: sysbench prepare failed" >&2; return 1; }
}

# sysbench's "transactions: N (X per sec.)" line; a run with any error (sysbench stops at the first) fails.
oltp_run() { # conf log
  sysbench --config-file="$1" oltp_read_write run >"$2" 2>&1 || { tail -20 "$2" >&2; return 1; }
  cat "$2" >> "$OLTP_DIR/all-runs.log"
  sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.).*/\1/p' "$2"
}

bench_ours() { oltp_run "$OLTP_DIR/gateway.conf" "$OLTP_DIR/ours.log"; }

bench_anchor() { oltp_run "$OLTP_DIR/direct.conf" "$OLTP_DIR/anchor.log"; }

bench_context() {
  echo "   per run (transactions/s, 95th percentile latency, ignored errors, reconnects):"
  awk '/^SQL statistics/ {n++} /transactions:/ {tps=$3; gsub(/\(/, "", tps)} /95th percentile:/ {p=$3} /ignored errors:/ {e=$3} /reconnects:/ {r=$2} /^ *sum:/ {print "     run " n ": " tps " tps, p95 " p " ms, " e " ignored errors, " r " reconnects"}' "$OLTP_DIR/all-runs.log"
  echo "   runs alternate: gateway, direct, gateway, direct, ... (all-runs.log order)"
  echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench_teardown() {
  bench_gateway_stop_all
  if [ -n "${OLTP_DIR:-}" ]; then
    [ -f "$OLTP_DIR/prepare.conf" ] && sysbench --config-file="$OLTP_DIR/prepare.conf" oltp_read_write cleanup >/dev/null 2>&1
    tablet 100 -e 'DROP DATABASE IF EXISTS vt_sbbench' 2>/dev/null || true
    [ -n "${OLTP_ROOT:-}" ] && etcdctl del --prefix "$OLTP_ROOT/" >/dev/null 2>&1
    rm -rf "$OLTP_DIR"
  fi
  true
}
