# Private gateways for the benchmarks (sourced by bench/benchmarks/gateway-oltp.sh and cutover-gateway.sh): a gateway
# process of src/Gateway's Release build on a topology root of the benchmark's own, so the shared cluster's gateways,
# routing rules and holds are not involved. Needs the cluster env (eval "$(./infra/local/cluster.sh env)").

bench_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# bench_gateway_start DIR NAME ROOT CLIENT_USER CLIENT_PASSWORD: starts gateway NAME, logging in to the tablets as the
# cluster's app account, accepting CLIENT_USER; waits until /readyz answers; sets BENCH_GATEWAY_PORT (MySQL) and
# appends the pid to BENCH_GATEWAY_PIDS. Passwords travel in the process environment only, never argv.
BENCH_GATEWAY_PIDS=()
bench_gateway_start() {
  local dir=$1 name=$2 root=$3 client_user=$4 client_password=$5 mysql_port http_port pid
  mysql_port=$(bench_free_port); http_port=$(bench_free_port)
  ( set -a; . "$DURABLE_SECRETS_FILE"; set +a
    export Gateway__EtcdEndpoints="$DURABLE_ETCD_ENDPOINTS" Gateway__TopologyRoot="$root" Gateway__Cell="$DURABLE_CELL" Gateway__Name="$name" \
      Gateway__MySqlPort="$mysql_port" Gateway__HttpPort="$http_port" Gateway__DrainSeconds=2 Gateway__SecretsFile="$DURABLE_SECRETS_FILE" \
      Gateway__BackendUser=durable_app Gateway__BackendPassword="$DURABLE_APP_PASSWORD" \
      Gateway__Accounts__0__User="$client_user" Gateway__Accounts__0__Password="$client_password"
    exec dotnet src/Gateway/bin/Release/net10.0/Durable.Gateway.dll ) >"$dir/$name.log" 2>&1 &
  pid=$!
  BENCH_GATEWAY_PIDS+=("$pid")
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$http_port/readyz" >/dev/null && { BENCH_GATEWAY_PORT=$mysql_port; return 0; }
    [ -d "/proc/$pid" ] || break
    sleep 0.5
  done
  tail -20 "$dir/$name.log" >&2
  echo "bench: gateway $name did not become ready (log $dir/$name.log)" >&2
  return 1
}

# Stops the gateways this benchmark started (SIGTERM: they drain), by pid.
bench_gateway_stop_all() {
  local pid
  for pid in "${BENCH_GATEWAY_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${BENCH_GATEWAY_PIDS[@]}"; do
    for _ in $(seq 1 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  BENCH_GATEWAY_PIDS=()
}
