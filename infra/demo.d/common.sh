#!/usr/bin/env bash
# What the walkthroughs share (sourced by infra/demo.d/walkthrough.sh and sharded.sh, with the cluster env loaded and
# say/run from infra/demo.sh): a private directory and process list cleaned up on exit, the checks' output, a Functions
# host and a Streamer of the walkthrough's own, and the small application that writes and reads corder rows through
# the cluster's two gateways.
set -euo pipefail

WT_DIR="$(mktemp -d /tmp/durable-walkthrough.XXXXXX)"
WT_PIDS=()
wt_cleanup() {
  touch "$WT_DIR/stop"
  for pid in "${WT_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap wt_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
fail() { printf '\033[31mFAILED: %s\033[0m\n' "$*"; exit 1; }
proven() { printf '\033[32mproven: %s\033[0m\n' "$*"; }
durablectl() { dotnet "$REPO/src/Cli/bin/Release/net10.0/durablectl.dll" "$@"; }

# Starts a Functions host (its own task hub on Azurite, approver alice) and a Streamer from the Release builds
# infra/demo.sh has just made; sets DURABLE_SERVER, DURABLE_FUNCTIONS_KEY and APPROVER_KEY; registers the local cluster.
wt_start_host_and_streamer() {
  PORT=$(free_port)
  HUB="Walkthrough$$"
  mkdir -p "$WT_DIR/root"
  python3 - "$REPO/host.json" "$WT_DIR/root/host.json" "$HUB" <<'PY'
import json, sys
h = json.load(open(sys.argv[1])); h["extensions"]["durableTask"]["hubName"] = sys.argv[3]
json.dump(h, open(sys.argv[2], "w"), indent=2)
PY
  export DURABLE_SERVER="http://127.0.0.1:$PORT"
  export DURABLE_FUNCTIONS_KEY="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
  APPROVER_KEY="$(head -c 32 /dev/urandom | base64)"
  ( set -a; . "$DURABLE_SECRETS_FILE"; set +a
    export DURABLE_HOST_KEY="$DURABLE_FUNCTIONS_KEY" AzureWebJobsScriptRoot="$WT_DIR/root" DURABLE_APPROVER_KEYS="alice=$APPROVER_KEY"
    export DURABLE_ENGINE_USER=durable_filtered DURABLE_ENGINE_PASSWORD="$DURABLE_FILTERED_PASSWORD"
    exec dotnet "$REPO/src/Functions/bin/Release/net10.0/Durable.Functions.dll" --urls "$DURABLE_SERVER" ) > "$WT_DIR/host.log" 2>&1 &
  WT_PIDS+=($!)
  ( set -a; . "$DURABLE_SECRETS_FILE"; set +a
    export Streamer__Password="$DURABLE_FILTERED_PASSWORD"
    exec dotnet "$REPO/src/Streamer/bin/Release/net10.0/Durable.Streamer.dll" --Streamer:EtcdEndpoints="$DURABLE_ETCD_ENDPOINTS" \
      --Streamer:User=durable_filtered --Streamer:PollIntervalMs=100 ) > "$WT_DIR/streamer.log" 2>&1 &
  WT_PIDS+=($!)
  for _ in $(seq 1 120); do curl -sf "$DURABLE_SERVER/api/health" >/dev/null && break; sleep 0.5; done
  curl -sf "$DURABLE_SERVER/api/health" >/dev/null || { tail -20 "$WT_DIR/host.log"; fail "the host did not start"; }
  echo "host at $DURABLE_SERVER (logs in $WT_DIR), Streamer pid ${WT_PIDS[1]}"
  run durablectl RegisterLocalCluster --cluster-file "$DURABLE_CLUSTER_FILE" >/dev/null
}

# The application: through the gateways (1 and 2 in turn) it inserts a corder row with sku 'SKU-APP' and reads the
# count back every 20 ms, connected to keyspace commerce as an application connects to vtgate: it knows nothing of
# routing rules. CUSTOMERS: how many customer ids it writes for in turn (1..CUSTOMERS). Every error it sees is
# recorded in $WT_DIR/app.errors (the walkthroughs want none); $WT_DIR/app.ok and app.reads count what succeeded.
wt_start_application() {
  local customers=${1:-1}
  ( ok=0 reads=0 n=0
    while [ ! -f "$WT_DIR/stop" ]; do
      n=$((n + 1)); gw=$(( n % 2 + 1 ))
      if out=$(gateway "$gw" commerce -e "INSERT INTO corder (customer_id, sku, price) VALUES ($(( n % customers + 1 )), 'SKU-APP', 1)" 2>&1); then
        ok=$((ok + 1)); echo "$ok" > "$WT_DIR/app.ok"
      else
        echo "$(date +%T.%N) write via gateway $gw: $out" >> "$WT_DIR/app.errors"
      fi
      if out=$(gateway "$(( 3 - gw ))" commerce -N -e "SELECT COUNT(*) FROM corder WHERE sku = 'SKU-APP'" 2>&1); then
        reads=$((reads + 1)); echo "$reads" > "$WT_DIR/app.reads"
      else
        echo "$(date +%T.%N) read via gateway $(( 3 - gw )): $out" >> "$WT_DIR/app.errors"
      fi
      sleep 0.02
    done ) &
  WT_PIDS+=($!)
  sleep 1
  echo "application running through gateways on ports $DURABLE_GATEWAY_PORTS: $(cat "$WT_DIR/app.ok" 2>/dev/null || echo 0) rows written so far"
}

# Fails the walkthrough when the application saw any error.
wt_check_application() {
  if [ -f "$WT_DIR/app.errors" ]; then
    echo "the application saw errors through the gateways:"; cat "$WT_DIR/app.errors"; fail "application errors $*"
  fi
}

# Waits for a workflow's traffic state (status --format json) and fails on a last_error. Args: TARGET WORKFLOW STATE.
wt_wait_traffic() {
  for _ in $(seq 1 120); do
    durablectl MoveTables --target-keyspace "$1" --workflow "$2" status --format json > "$WT_DIR/status.json"
    grep -q "\"traffic_state\": \"$3\"" "$WT_DIR/status.json" && return 0
    grep -q '"last_error": "' "$WT_DIR/status.json" && { cat "$WT_DIR/status.json"; fail "switch"; }
    sleep 0.5
  done
  fail "traffic state of $1.$2 is not '$3'"
}
