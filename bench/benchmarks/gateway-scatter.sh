# gateway-scatter: a scatter SELECT with ORDER BY and LIMIT over both shards of a sharded keyspace through a gateway,
# against the same SELECT directly on an unsharded copy of the same rows (the issue asks for the ratio; no goal).
# ours = queries/s through the gateway (it sends the SELECT to both shards with WEIGHT_STRING sort keys and LIMIT, then
# merges in collation order and cuts), anchor = queries/s of the same text on the copy, both run by mariadb-slap
# (mariadb-client) with the same concurrency and query count. The sharded keyspace `scatterbench` (-80 on the
# customer_sharded -80 primary, 80- on the 80- primary, database vt_scatterbench, VSchema: hash vindex on id) lives
# under a private topology root with a private gateway, so the shared cluster is not touched; the copy is database
# vt_scatterbench_src on the commerce primary. Rows: names varied in case and accents ('a', 'A', 'á', 'b', 'é', 'ç').
# Settings: SCATTER_ROWS (20000), SCATTER_QUERIES (400), SCATTER_CONCURRENCY (4), GATEWAY_SKIP_BUILD=1.
UNIT="queries/s"
ANCHOR="the same SELECT directly on an unsharded copy"
SCATTER_ROWS="${SCATTER_ROWS:-20000}"
SCATTER_QUERIES="${SCATTER_QUERIES:-400}"
SCATTER_CONCURRENCY="${SCATTER_CONCURRENCY:-4}"
SCATTER_SQL="SELECT id, name, price FROM item WHERE price < 500 ORDER BY name DESC, id LIMIT 50"
DESCRIPTION="'$SCATTER_SQL' over 2 shards via a gateway, ${SCATTER_ROWS} rows, ${SCATTER_CONCURRENCY} clients x $((SCATTER_QUERIES / SCATTER_CONCURRENCY)) queries (no goal: the ratio is reported)"
# shellcheck source=../lib/gateway.sh
. bench/lib/gateway.sh

scatter_cnf() { # file host port user password
  (umask 077; printf '[client]\nhost=%s\nport=%s\nuser=%s\npassword=%s\n' "$2" "$3" "$4" "$5" > "$1")
}

bench_setup() {
  eval "$(./infra/local/cluster.sh env)"
  if [ "${GATEWAY_SKIP_BUILD:-0}" != 1 ]; then
    for p in src/Gateway bench/Durable.Bench; do
      dotnet build "$p" -c Release -v quiet -nologo >/dev/null || { echo "gateway-scatter: building $p failed" >&2; return 1; }
    done
  fi
  SCATTER_DIR="$(mktemp -d -t durable-gateway-scatter.XXXXXX)"
  SCATTER_ROOT="/durable-bench/scatter$$$(date +%s)"
  # The private sharded keyspace: the two customer_sharded primaries, database vt_scatterbench.
  python3 - "$DURABLE_CLUSTER_FILE" "$SCATTER_DIR/cluster.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
shards = {300: "-80", 400: "80-"}
tablets = [dict(t, keyspace="scatterbench", shard=shards[t["uid"]], type="PRIMARY", dbName="vt_scatterbench", primaryUid=None)
           for t in c["tablets"] if t["uid"] in shards]
json.dump({"cell": c["cell"], "etcd": c["etcd"], "accounts": c["accounts"], "tablets": tablets}, open(sys.argv[2], "w"))
PY
  local ddl="CREATE TABLE item (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, price INT NOT NULL) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
  for uid in 300 400; do
    tablet "$uid" -e "DROP DATABASE IF EXISTS vt_scatterbench; CREATE DATABASE vt_scatterbench; USE vt_scatterbench; $ddl"
  done
  tablet 100 -e "DROP DATABASE IF EXISTS vt_scatterbench_src; CREATE DATABASE vt_scatterbench_src; USE vt_scatterbench_src; $ddl"
  dotnet bench/Durable.Bench/bin/Release/net10.0/Durable.Bench.dll topology-register "$SCATTER_DIR/cluster.json" "$DURABLE_ETCD_ENDPOINTS" "$SCATTER_ROOT" 2>"$SCATTER_DIR/register.log" \
    || { cat "$SCATTER_DIR/register.log" >&2; echo "gateway-scatter: registering keyspace scatterbench under $SCATTER_ROOT failed" >&2; return 1; }
  etcdctl put "$SCATTER_ROOT/global/keyspaces/scatterbench/VSchema" \
    '{"sharded":true,"vindexes":{"hash":{"type":"hash"}},"tables":{"item":{"column_vindexes":[{"column":"id","name":"hash"}]}}}' >/dev/null
  local client_password; client_password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
  bench_gateway_start "$SCATTER_DIR" scatter-gateway "$SCATTER_ROOT" scatterbench "$client_password" || return 1
  local host port app_password
  host=$(python3 -c 'import json,sys; t=[t for t in json.load(open(sys.argv[1]))["tablets"] if t["uid"]==100][0]; print(t["host"], t["port"])' "$DURABLE_CLUSTER_FILE")
  port=${host#* }; host=${host% *}
  app_password=$(grep '^DURABLE_APP_PASSWORD=' "$DURABLE_SECRETS_FILE" | cut -d= -f2-)
  scatter_cnf "$SCATTER_DIR/direct.cnf" "$host" "$port" durable_app "$app_password"
  scatter_cnf "$SCATTER_DIR/gateway.cnf" 127.0.0.1 "$BENCH_GATEWAY_PORT" scatterbench "$client_password"
  # The same rows both ways: directly into the copy, through the gateway into the shards (it splits each multi-row
  # INSERT by the hash of id), then counted on the shards themselves.
  python3 - "$SCATTER_ROWS" > "$SCATTER_DIR/rows.sql" <<'PY'
import sys
n = int(sys.argv[1]); prefixes = ["a", "A", "\u00e1", "b", "\u00e9", "\u00e7"]
for start in range(1, n + 1, 500):
    rows = [f"({i}, '{prefixes[i % 6]}{(i * 7919) % 100000:06d}', {i * 31 % 1000})" for i in range(start, min(n, start + 499) + 1)]
    print("INSERT INTO item (id, name, price) VALUES " + ", ".join(rows) + ";")
PY
  mariadb --defaults-extra-file="$SCATTER_DIR/direct.cnf" --default-character-set=utf8mb4 vt_scatterbench_src < "$SCATTER_DIR/rows.sql" \
    || { echo "gateway-scatter: loading the copy failed" >&2; return 1; }
  mariadb --defaults-extra-file="$SCATTER_DIR/gateway.cnf" --default-character-set=utf8mb4 scatterbench < "$SCATTER_DIR/rows.sql" \
    || { echo "gateway-scatter: loading the shards through the gateway failed" >&2; return 1; }
  local a b
  a=$(tablet 300 vt_scatterbench -N -e 'SELECT COUNT(*) FROM item'); b=$(tablet 400 vt_scatterbench -N -e 'SELECT COUNT(*) FROM item')
  [ $((a + b)) = "$SCATTER_ROWS" ] && [ "$a" -gt 0 ] && [ "$b" -gt 0 ] \
    || { echo "gateway-scatter: the shards hold $a + $b rows, expected $SCATTER_ROWS split over both" >&2; return 1; }
  SCATTER_SPLIT="$a / $b"
  # The answers must be the same before anything is timed.
  mariadb --defaults-extra-file="$SCATTER_DIR/direct.cnf" --default-character-set=utf8mb4 -N vt_scatterbench_src -e "$SCATTER_SQL" > "$SCATTER_DIR/direct.out"
  mariadb --defaults-extra-file="$SCATTER_DIR/gateway.cnf" --default-character-set=utf8mb4 -N scatterbench -e "$SCATTER_SQL" > "$SCATTER_DIR/gateway.out"
  cmp -s "$SCATTER_DIR/direct.out" "$SCATTER_DIR/gateway.out" \
    || { diff "$SCATTER_DIR/direct.out" "$SCATTER_DIR/gateway.out" | head -10 >&2; echo "gateway-scatter: the gateway's answer differs from the copy's" >&2; return 1; }
}

# mariadb-slap's average seconds for all queries, as queries per second.
scatter_run() { # cnf schema
  local out
  out=$(mariadb-slap --defaults-extra-file="$1" --create-schema="$2" --no-drop --query="$SCATTER_SQL" \
    --concurrency="$SCATTER_CONCURRENCY" --number-of-queries="$SCATTER_QUERIES" --iterations=1 2>&1) || { echo "$out" >&2; return 1; }
  echo "$out" >> "$SCATTER_DIR/all-runs.log"
  echo "$out" | awk -v q="$SCATTER_QUERIES" '/Average number of seconds/ {printf "%.2f\n", q / $(NF-1)}'
}

bench_ours() { scatter_run "$SCATTER_DIR/gateway.cnf" scatterbench; }

bench_anchor() { scatter_run "$SCATTER_DIR/direct.cnf" vt_scatterbench_src; }

bench_context() {
  echo "   rows per shard (-80 / 80-): $SCATTER_SPLIT; answers checked equal before timing"
  echo "   runs alternate: gateway, direct, ... (mariadb-slap, $SCATTER_CONCURRENCY clients)"
  echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench_teardown() {
  bench_gateway_stop_all
  if [ -n "${SCATTER_DIR:-}" ]; then
    for uid in 300 400; do tablet "$uid" -e 'DROP DATABASE IF EXISTS vt_scatterbench' 2>/dev/null || true; done
    tablet 100 -e 'DROP DATABASE IF EXISTS vt_scatterbench_src' 2>/dev/null || true
    [ -n "${SCATTER_ROOT:-}" ] && etcdctl del --prefix "$SCATTER_ROOT/" >/dev/null 2>&1
    rm -rf "$SCATTER_DIR"
  fi
  true
}
