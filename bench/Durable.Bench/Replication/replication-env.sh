# Helpers for the replication-* benchmarks (sourced): streams are created through tests/Replication.TestHost (Release),
# the copy runs in bench/Durable.Bench (replication-copy, Release), the catch-up in src/Streamer (Release), all pointed
# at two private servers registered as commerce/0 (source) and customer/0 (target) in a tablets file.
# Server ids for binlog reads are leased from the local cluster's etcd under a private root.
source bench/Durable.Bench/MySql/private-mariadb.sh
REPL_HOST_DLL="tests/Replication.TestHost/bin/Release/net10.0/Durable.Replication.TestHost.dll"
repl_build() { dotnet build tests/Replication.TestHost -c Release -v q -nologo >/dev/null || { echo "building tests/Replication.TestHost failed" >&2; return 1; }; }

# repl_env SRC DST SRCDB DSTDB: exports the Streamer__* settings the host reads.
repl_env() {
  local src_port_var="PM_PORT_$1" dst_port_var="PM_PORT_$2"
  REPL_TABLETS="$(mktemp /tmp/durable-bench-tablets-XXXXXX.json)"
  cat >"$REPL_TABLETS" <<JSON
[{"alias":"bench-src","keyspace":"commerce","shard":"0","type":"PRIMARY","host":"127.0.0.1","port":${!src_port_var},"dbName":"$3"},
 {"alias":"bench-dst","keyspace":"customer","shard":"0","type":"PRIMARY","host":"127.0.0.1","port":${!dst_port_var},"dbName":"$4"}]
JSON
  export Streamer__TabletsFile="$REPL_TABLETS" Streamer__User=bench Streamer__Password="$BENCH_MYSQL_PASSWORD" \
         Streamer__Sidecar=_vt Streamer__TopologyRoot="/durable-bench-$$" \
         Streamer__EtcdEndpoints="$(python3 -c 'import json;print(",".join(json.load(open(".local/cluster.json"))["etcd"]["endpoints"]))')"
}
