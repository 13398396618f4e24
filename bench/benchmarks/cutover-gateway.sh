# cutover-gateway: cutover-window with the application going through two gateways instead of following the routing
# rules itself: the same private host, Streamer, workflow and 10 SwitchTraffic/ReverseTraffic cycles, and an
# application (Durable.Bench cutover-gateway, GatewayLoad) that connects to keyspace commerce on two private gateways
# (its 16 connections spread over both) on the run's topology root, writing at CUTOVER_RATE rows/s with a read of each
# row right after its write. The gateways hold its statements while a switch runs. Reported: the errors the application
# saw (goal 0) and, as the harness measurement, 1 / p99 latency of the statements sent while a switch ran (>= 1: p99
# <= 1 s, the issue's goal), the anchor the same documented 1 s as cutover-window's.
# shellcheck source=cutover-window.sh
. bench/benchmarks/cutover-window.sh
# shellcheck source=../lib/gateway.sh
. bench/lib/gateway.sh
UNIT="1/s (1 / p99 statement latency during switches)"
ANCHOR="goal: p99 1 s (Vitess 'typically under 1 second'), errors 0"
DESCRIPTION="application through 2 gateways over ${CUTOVER_CYCLES} switch/reverse cycles at ${CUTOVER_RATE} writes/s: errors and p99 statement latency during the switches"

# cutover-window's setup (host, Streamer, topology root with the cluster registered), then two gateways on that root.
eval "cutover_window_setup() $(declare -f bench_setup | tail -n +2)"
bench_setup() {
  cutover_window_setup || return 1
  if [ "${CUTOVER_SKIP_BUILD:-0}" != 1 ]; then
    dotnet build src/Gateway -c Release -v quiet -nologo >/dev/null || { echo "cutover-gateway: building src/Gateway failed" >&2; return 1; }
  fi
  BENCH_GATEWAY_USER=bench_app
  BENCH_GATEWAY_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
  local ports=() i
  for i in 1 2; do
    bench_gateway_start "$CUTOVER_DIR" "cutover-gateway-$i" "$CUTOVER_ROOT" "$BENCH_GATEWAY_USER" "$BENCH_GATEWAY_PASSWORD" || return 1
    ports+=("127.0.0.1:$BENCH_GATEWAY_PORT")
  done
  BENCH_GATEWAYS=$(IFS=,; echo "${ports[*]}")
  export BENCH_GATEWAYS BENCH_GATEWAY_USER BENCH_GATEWAY_PASSWORD
}

bench_ours() {
  ( set -a; . "$DURABLE_SECRETS_FILE"; set +a
    exec dotnet "$CUTOVER_BENCH_DLL" cutover-gateway "$CUTOVER_CYCLES" "$CUTOVER_RATE" "$CUTOVER_DIR/report.txt" ) 2>>"$CUTOVER_DIR/runs.log" \
    || { tail -5 "$CUTOVER_DIR/runs.log" >&2; return 1; }
  cat "$CUTOVER_DIR/report.txt" >>"$CUTOVER_DIR/all-reports.txt"
}

bench_context() {
  echo "   per run (errors seen by the application, p99 statement latency during the switches, each switch):"
  sed 's/^/     /' "$CUTOVER_DIR/all-reports.txt"
  echo "   errors seen by the application, all runs: $(awk '/^errors seen by the application:/ {n += $6} END {print n + 0}' "$CUTOVER_DIR/all-reports.txt") (goal 0)"
  echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

eval "cutover_window_teardown() $(declare -f bench_teardown | tail -n +2)"
bench_teardown() {
  bench_gateway_stop_all
  cutover_window_teardown
}
