#!/usr/bin/env bash
# The local Durable cluster: etcd, Azurite and MariaDB tablets modelled on the seeds' local example
# (101_initial_cluster.sh, 201_customer_tablets.sh, env.sh), all on 127.0.0.1, all data under one git-ignored folder.
#
#   cluster.sh up       install what is missing, start everything (a no-op when all is running): etcd, Azurite, the
#                       tablets, then the Functions host and the Streamer built from this checkout; the host registers
#                       the tablets in the topology; then two gateways (src/Gateway, vtgate's role: the MySQL endpoint
#                       applications use, following the routing rules); `up --servers-only` stops after the servers;
#                       `up --with-external` also starts a
#                       second, separate cluster (own etcd, host and tablets 1100/1101 with the seeds' commerce data),
#                       the source for Migrate
#   cluster.sh down     stop only what `up` started (pid files), leave no process behind
#   cluster.sh status   every server with role, port and up/down
#   cluster.sh env      shell exports for the cluster (eval "$(./infra/local/cluster.sh env)")
#   cluster.sh reset    down, delete the tablets' data (keeps ports and passwords), up again: a clean cluster
#
# Environment: DURABLE_LOCAL_DIR (default <repo>/.local) holds data, logs, pid files, the chosen ports and the
# generated passwords (secrets.env, mode 600: never printed by this script).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="${DURABLE_LOCAL_DIR:-$REPO/.local}"
CELL=zone1
PORTS_FILE="$LOCAL/ports.env"
SECRETS_FILE="$LOCAL/secrets.env"
CLUSTER_FILE="$LOCAL/cluster.json"
TEMPLATE="$LOCAL/template/mariadb"
AZURITE_DIR="$REPO/infra/local/azurite"
SQL_DIR="$REPO/infra/local/sql"

# Two profiles share this script. "main" is the cluster Durable works in. "external" is a second, separate cluster
# (its own etcd, Azurite, Functions host and tablets, under $LOCAL/external) that Migrate mounts as a source; it is
# started by `up --with-external` and holds the seeds' commerce keyspace with its sample rows.
PROFILE="${DURABLE_CLUSTER_PROFILE:-main}"
case "$PROFILE" in main|external) ;; *) echo "cluster.sh: DURABLE_CLUSTER_PROFILE is '$PROFILE'; valid: main, external" >&2; exit 2 ;; esac
EXTERNAL_LOCAL="$LOCAL/external"

# The tablets: uid keyspace shard type primary-uid ("-" for a primary). Tablet ids follow the seeds' convention
# (commerce 100-102, customer 200-202); the sharded keyspace uses 300s and 400s; the external cluster 1100s.
if [ "$PROFILE" = external ]; then
TABLETS="
1100 commerce 0 PRIMARY -
1101 commerce 0 REPLICA 1100
"
PORT_BASE_ETCD=13379; PORT_BASE_AZURITE=11000; PORT_BASE_FUNCTIONS=7072; PORT_BASE_STREAMER=9465; LOAD_SAMPLE_DATA=1
GATEWAYS=0  # Migrate's source cluster: applications reach it directly, as an existing database
else
PORT_BASE_ETCD=12379; PORT_BASE_AZURITE=10000; PORT_BASE_FUNCTIONS=7071; PORT_BASE_STREAMER=9464; LOAD_SAMPLE_DATA=0
# Two gateways, as the seeds' local example runs vtgate (MySQL port 15306, HTTP 15001): two, so applications can spread
# over them and a switch is proven to wait for every one.
GATEWAYS=2; PORT_BASE_GATEWAY_MYSQL=15306; PORT_BASE_GATEWAY_HTTP=15001
TABLETS="
100 commerce 0 PRIMARY -
101 commerce 0 REPLICA 100
102 commerce 0 RDONLY 100
200 customer 0 PRIMARY -
201 customer 0 REPLICA 200
202 customer 0 RDONLY 200
300 customer_sharded -80 PRIMARY -
301 customer_sharded -80 REPLICA 300
400 customer_sharded 80- PRIMARY -
401 customer_sharded 80- REPLICA 400
"
fi

# Least-privilege accounts: role name -> user. Passwords are generated once into secrets.env.
ROLES="dba app repl filtered"
user_of() { echo "durable_$1"; }

log() { echo "[cluster] $*" >&2; }
die() { echo "cluster.sh: $*" >&2; exit 1; }

alias_of() { printf '%s-%010d' "$CELL" "$1"; }
tablet_dir() { echo "$LOCAL/mariadb/$(alias_of "$1")"; }

# ---------------------------------------------------------------------------------------------------------------
# Installation: only from Debian's packages and the npm registry (Azurite pinned by infra/local/azurite's lockfile).
# ---------------------------------------------------------------------------------------------------------------
APT_PACKAGES="mariadb-server mariadb-client etcd-server etcd-client percona-toolkit mydumper sysbench"

install_missing() {
  local missing=()
  for p in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (apt)"
    [ "$(id -u)" = 0 ] || die "installing ${missing[*]} needs root (apt-get); run as root or install them first"
    # The packages' own services must not start: this script runs its own instances on its own ports.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$created_policy" = 1 ] && rm -f "$policy"
  fi
  # Debian may have started its own mariadb/etcd on the default ports; they are not ours and we leave them alone.
  if [ ! -x "$AZURITE_DIR/node_modules/.bin/azurite" ]; then
    command -v npm >/dev/null || die "npm is needed for Azurite (apt-get install nodejs npm)"
    log "installing Azurite from infra/local/azurite/package-lock.json (npm ci)"
    (cd "$AZURITE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Ports: chosen once, persisted in ports.env, and re-checked: a port taken by someone else is replaced by a free one.
# ---------------------------------------------------------------------------------------------------------------
port_in_use() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

declare -A PORT
load_ports() {
  PORT=()
  if [ -f "$PORTS_FILE" ]; then
    while IFS='=' read -r k v; do [ -n "$k" ] && PORT[$k]=$v; done < "$PORTS_FILE"
  fi
}
save_ports() {
  mkdir -p "$LOCAL"
  : > "$PORTS_FILE.tmp"
  for k in $(printf '%s\n' "${!PORT[@]}" | sort); do echo "$k=${PORT[$k]}" >> "$PORTS_FILE.tmp"; done
  mv "$PORTS_FILE.tmp" "$PORTS_FILE"
}
port_taken_by_us() { # a port another key of ours already holds
  local p=$1 self=$2 k
  for k in "${!PORT[@]}"; do [ "$k" != "$self" ] && [ "${PORT[$k]}" = "$p" ] && return 0; done
  return 1
}
# choose_port KEY PREFERRED RUNNING: keep the saved port when our own server holds it (RUNNING=1) or it is free.
choose_port() {
  local key=$1 preferred=$2 running=${3:-0} p
  p=${PORT[$key]:-$preferred}
  if [ "$running" = 1 ]; then PORT[$key]=$p; return; fi
  while port_in_use "$p" || port_taken_by_us "$p" "$key"; do p=$((p + 1)); done
  PORT[$key]=$p
}

# ---------------------------------------------------------------------------------------------------------------
# Processes: every server runs detached in its own session, with a pid file that `down` and `status` trust only when
# the process behind it is alive and is the program we started.
# ---------------------------------------------------------------------------------------------------------------
pid_alive() { # pidfile expected-command-substring
  local f=$1 want=$2 pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  [ -d "/proc/$pid" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$want"
}

stop_pid() { # pidfile expected-substring name
  local f=$1 want=$2 name=$3 pid i
  if pid_alive "$f" "$want"; then
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then log "$name did not stop in 30 s: killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
    log "stopped $name"
  fi
  rm -f "$f"
}

wait_for() { # seconds description command...
  local secs=$1 what=$2 i; shift 2
  for i in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "$what did not come up within ${secs}s"
}

# ---------------------------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------------------------
gen_password() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
# The replication engine logs in to every tablet it reads, its own cluster's and a mounted cluster's alike, with ONE
# account (DURABLE_ENGINE_USER/PASSWORD). So the external cluster's engine account ("filtered") gets the main cluster's
# password; every other account of the external cluster has its own.
engine_or_generated_password() {
  if [ "$PROFILE" = external ] && [ "$1" = filtered ] && [ -f "${DURABLE_MAIN_SECRETS_FILE:-}" ]; then
    grep '^DURABLE_FILTERED_PASSWORD=' "$DURABLE_MAIN_SECRETS_FILE" | cut -d= -f2-
  else
    gen_password
  fi
}
# The main cluster's secrets file names the external cluster's engine password DURABLE_EXT1_FILTERED_PASSWORD, so a
# mount of the external cluster can carry the reference secret:DURABLE_EXT1_FILTERED_PASSWORD (docs/migrate.md).
sync_external_engine_secret() {
  # Before the external cluster exists its engine password will be the main one (engine_or_generated_password), so
  # the line is written before the main host starts and reads the file.
  local value; value=$(grep '^DURABLE_FILTERED_PASSWORD=' "$EXTERNAL_LOCAL/secrets.env" 2>/dev/null | cut -d= -f2- || true)
  [ -n "$value" ] || value=$(secret filtered || true)
  [ -n "$value" ] || return 0
  [ "$(grep '^DURABLE_EXT1_FILTERED_PASSWORD=' "$SECRETS_FILE" | cut -d= -f2- || true)" = "$value" ] && return 0
  (umask 077
   { grep -v '^DURABLE_EXT1_FILTERED_PASSWORD=' "$SECRETS_FILE" || true; echo "DURABLE_EXT1_FILTERED_PASSWORD=$value"; } > "$SECRETS_FILE.tmp")
  mv "$SECRETS_FILE.tmp" "$SECRETS_FILE"
}
ensure_secrets() {
  mkdir -p "$LOCAL"
  if [ ! -f "$SECRETS_FILE" ]; then
    (umask 077
     echo "# Generated by infra/local/cluster.sh for the local cluster. Never commit or print."
     for r in $ROLES; do echo "DURABLE_$(echo "$r" | tr a-z A-Z)_PASSWORD=$(engine_or_generated_password "$r")"; done) > "$SECRETS_FILE.tmp"
    mv "$SECRETS_FILE.tmp" "$SECRETS_FILE"
  fi
  # The Functions host's function key (x-functions-key); added to a secrets file written before the host existed.
  if ! grep -q '^DURABLE_HOST_KEY=' "$SECRETS_FILE"; then echo "DURABLE_HOST_KEY=$(gen_password)$(gen_password)" >> "$SECRETS_FILE"; fi
  # The gateways' client account (applications log in to a gateway with it); added to a secrets file written before
  # the gateways existed. It is the gateways' own account, not a MariaDB one: it opens no tablet directly.
  if [ "$GATEWAYS" -gt 0 ] && ! grep -q '^DURABLE_CLIENT_PASSWORD=' "$SECRETS_FILE"; then echo "DURABLE_CLIENT_PASSWORD=$(gen_password)" >> "$SECRETS_FILE"; fi
  chmod 600 "$SECRETS_FILE"
  if [ "$PROFILE" = main ]; then sync_external_engine_secret; fi
}
host_key() { grep '^DURABLE_HOST_KEY=' "$SECRETS_FILE" | cut -d= -f2-; }
secret() { grep "^DURABLE_$(echo "$1" | tr a-z A-Z)_PASSWORD=" "$SECRETS_FILE" | cut -d= -f2-; }

# ---------------------------------------------------------------------------------------------------------------
# etcd
# ---------------------------------------------------------------------------------------------------------------
ETCD_DIR="$LOCAL/etcd"
etcd_up() {
  local running=0
  pid_alive "$ETCD_DIR/etcd.pid" /usr/bin/etcd && running=1
  choose_port etcd_client $PORT_BASE_ETCD $running
  choose_port etcd_peer $((PORT_BASE_ETCD + 1)) $running
  save_ports
  [ $running = 1 ] && return 0
  mkdir -p "$ETCD_DIR"
  log "starting etcd on 127.0.0.1:${PORT[etcd_client]}"
  # ETCD_UNSUPPORTED_ARCH is needed by etcd 3.4 on some architectures; harmless elsewhere.
  setsid nohup /usr/bin/etcd --name durable-local --data-dir "$ETCD_DIR/data" \
    --listen-client-urls "http://127.0.0.1:${PORT[etcd_client]}" \
    --advertise-client-urls "http://127.0.0.1:${PORT[etcd_client]}" \
    --listen-peer-urls "http://127.0.0.1:${PORT[etcd_peer]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${PORT[etcd_peer]}" \
    --initial-cluster "durable-local=http://127.0.0.1:${PORT[etcd_peer]}" \
    --auto-compaction-retention 1h --logger zap --log-outputs "$ETCD_DIR/etcd.log" \
    > "$ETCD_DIR/etcd.out" 2>&1 < /dev/null 9>&- &
  echo $! > "$ETCD_DIR/etcd.pid"
}
etcd_ready() { curl -sf -X POST "http://127.0.0.1:${PORT[etcd_client]}/v3/maintenance/status" -d '{}' | grep -q version; }

# ---------------------------------------------------------------------------------------------------------------
# Azurite
# ---------------------------------------------------------------------------------------------------------------
AZ_DIR="$LOCAL/azurite"
DEV_ACCOUNT=devstoreaccount1
# The Azure Storage emulator's well-known development key (public, documented by Microsoft): not a secret.
DEV_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
azurite_up() {
  local running=0
  pid_alive "$AZ_DIR/azurite.pid" azurite && running=1
  choose_port azurite_blob $PORT_BASE_AZURITE $running
  choose_port azurite_queue $((PORT_BASE_AZURITE + 1)) $running
  choose_port azurite_table $((PORT_BASE_AZURITE + 2)) $running
  save_ports
  [ $running = 1 ] && return 0
  mkdir -p "$AZ_DIR/data"
  log "starting Azurite on 127.0.0.1:${PORT[azurite_blob]}/${PORT[azurite_queue]}/${PORT[azurite_table]}"
  setsid nohup node "$AZURITE_DIR/node_modules/azurite/dist/src/azurite.js" \
    --blobHost 127.0.0.1 --blobPort "${PORT[azurite_blob]}" \
    --queueHost 127.0.0.1 --queuePort "${PORT[azurite_queue]}" \
    --tableHost 127.0.0.1 --tablePort "${PORT[azurite_table]}" \
    --location "$AZ_DIR/data" --skipApiVersionCheck --disableProductStyleUrl --silent \
    > "$AZ_DIR/azurite.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$AZ_DIR/azurite.pid"
}
azurite_ready() { curl -s -o /dev/null "http://127.0.0.1:${PORT[azurite_queue]}/$DEV_ACCOUNT?comp=list"; }
azurite_connection_string() {
  echo "DefaultEndpointsProtocol=http;AccountName=$DEV_ACCOUNT;AccountKey=$DEV_KEY;BlobEndpoint=http://127.0.0.1:${PORT[azurite_blob]}/$DEV_ACCOUNT;QueueEndpoint=http://127.0.0.1:${PORT[azurite_queue]}/$DEV_ACCOUNT;TableEndpoint=http://127.0.0.1:${PORT[azurite_table]}/$DEV_ACCOUNT;"
}

# ---------------------------------------------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------------------------------------------
# A prepared template data directory (system tables, time-zone tables, accounts) makes a fresh tablet a copy, not an
# install: this is what keeps a fresh `up` well under 90 s. It is built without binary logging, so every tablet
# starts with an empty GTID history and replicas can replicate their primary from its first binlog.
build_template() {
  local stamp="$LOCAL/template/accounts.sha"
  # Rebuilt only when the accounts (or their passwords) change.
  local want; want=$(sql_accounts | sha256sum | cut -c1-16)
  if [ -f "$TEMPLATE/.complete" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  log "preparing the MariaDB template data directory (once)"
  rm -rf "$LOCAL/template"; mkdir -p "$TEMPLATE"
  mariadb-install-db --no-defaults --datadir="$TEMPLATE" --user=root --auth-root-authentication-method=socket \
    --skip-test-db > "$LOCAL/template/install.log" 2>&1 || { cat "$LOCAL/template/install.log" >&2; die "mariadb-install-db failed"; }
  local sock="$LOCAL/template/t.sock"
  setsid mariadbd --no-defaults --user=root --datadir="$TEMPLATE" --socket="$sock" --skip-networking \
    --skip-log-bin --pid-file="$LOCAL/template/t.pid" --innodb-buffer-pool-size=64M \
    > "$LOCAL/template/mariadbd.log" 2>&1 < /dev/null 9>&- &
  wait_for 60 "template mariadbd" mariadb-admin --no-defaults --socket="$sock" -uroot ping
  {
    echo "SET sql_log_bin=0;"
    # Time-zone tables, so --source-time-zone and CONVERT_TZ work.
    mariadb-tzinfo-to-sql /usr/share/zoneinfo 2>/dev/null
    sql_accounts
  } | mariadb --no-defaults --socket="$sock" -uroot mysql
  mariadb-admin --no-defaults --socket="$sock" -uroot shutdown
  for _ in $(seq 1 300); do [ -S "$sock" ] || break; sleep 0.1; done
  rm -f "$TEMPLATE"/*.pid "$sock"
  echo "$want" > "$stamp"
  touch "$TEMPLATE/.complete"
}

# The accounts. Host '%' is safe here because every server binds to 127.0.0.1 only.
sql_accounts() {
  local dba app repl filtered
  dba=$(user_of dba); app=$(user_of app); repl=$(user_of repl); filtered=$(user_of filtered)
  cat <<SQL
CREATE USER '$dba'@'%' IDENTIFIED BY '$(secret dba)';
GRANT ALL PRIVILEGES ON *.* TO '$dba'@'%' WITH GRANT OPTION;
-- Applications: row access to keyspace databases only.
CREATE USER '$app'@'%' IDENTIFIED BY '$(secret app)';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES, EXECUTE ON \`vt\\_%\`.* TO '$app'@'%';
-- MariaDB's own replicas.
CREATE USER '$repl'@'%' IDENTIFIED BY '$(secret repl)';
GRANT REPLICATION SLAVE ON *.* TO '$repl'@'%';
-- The Durable engine (copy, Streamer, VDiff, cutover): rows, the DDL to create target tables, the sidecar schema and
-- write-guard triggers, LOCK TABLES for the cutover drain, reading binlogs and replication state. No SUPER, no FILE.
CREATE USER '$filtered'@'%' IDENTIFIED BY '$(secret filtered)';
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES, TRIGGER, LOCK TABLES, CREATE VIEW,
      SHOW VIEW, PROCESS, REPLICATION SLAVE, BINLOG MONITOR, SLAVE MONITOR, REPLICATION MASTER ADMIN ON *.* TO '$filtered'@'%';
FLUSH PRIVILEGES;
SQL
}

write_my_cnf() { # uid type
  local uid=$1 type=$2 dir; dir=$(tablet_dir "$uid")
  local ro=OFF; [ "$type" != PRIMARY ] && ro=ON
  cat > "$dir/my.cnf" <<CNF
# Generated by infra/local/cluster.sh for tablet $(alias_of "$uid") ($type). Edits are overwritten by the next up.
[mariadbd]
user = root
datadir = $dir/data
socket = $dir/mariadbd.sock
pid-file = $dir/mariadbd.pid
log-error = $dir/error.log
port = ${PORT[mariadb_$uid]}
bind-address = 127.0.0.1
skip-name-resolve
server_id = $uid
# What a replication tool needs: row events with full images and metadata, GTIDs, replicas that log what they apply.
log_bin = $dir/binlog/mariadb-bin
log_bin_index = $dir/binlog/mariadb-bin.index
binlog_format = ROW
binlog_row_image = FULL
binlog_row_metadata = FULL
log_slave_updates = ON
gtid_strict_mode = ON
binlog_expire_logs_seconds = 604800
relay_log = $dir/relay/relay-bin
relay_log_index = $dir/relay/relay-bin.index
read_only = $ro
# Write guards are triggers created by the engine's own account, without SUPER.
log_bin_trust_function_creators = ON
max_allowed_packet = 1G
character_set_server = utf8mb4
collation_server = utf8mb4_general_ci
# Small footprint: ten of these share one machine.
innodb_buffer_pool_size = 96M
innodb_log_file_size = 64M
max_connections = 300
performance_schema = OFF
skip-external-locking
CNF
  cat > "$dir/client.cnf" <<CNF
[client]
user = $(user_of dba)
password = $(secret dba)
host = 127.0.0.1
port = ${PORT[mariadb_$uid]}
CNF
  chmod 600 "$dir/client.cnf"
}

mariadb_as_root() { mariadb --no-defaults --socket="$(tablet_dir "$1")/mariadbd.sock" -uroot "${@:2}"; }

tablet_up() { # uid keyspace shard type primary
  local uid=$1 ks=$2 shard=$3 type=$4 primary=$5 dir running=0
  dir=$(tablet_dir "$uid")
  pid_alive "$dir/mariadbd.pid" mariadbd && running=1
  choose_port "mariadb_$uid" $((17000 + uid)) $running
  save_ports
  [ $running = 1 ] && return 0
  mkdir -p "$dir/binlog" "$dir/relay"
  if [ ! -d "$dir/data" ]; then
    cp -a "$TEMPLATE" "$dir/data.tmp" && rm -f "$dir/data.tmp/.complete" && mv "$dir/data.tmp" "$dir/data"
  fi
  write_my_cnf "$uid" "$type"
  log "starting tablet $(alias_of "$uid") $ks/$shard $type on 127.0.0.1:${PORT[mariadb_$uid]}"
  setsid nohup mariadbd --defaults-file="$dir/my.cnf" > "$dir/mariadbd.out" 2>&1 < /dev/null 9>&- &
}

tablet_ready() { mariadb_as_root "$1" -e 'SELECT 1'; }

# First start of a tablet: the keyspace database and schema on a primary; replication on a replica.
tablet_init() { # uid keyspace shard type primary
  local uid=$1 ks=$2 shard=$3 type=$4 primary=$5 dir; dir=$(tablet_dir "$uid")
  if [ -f "$dir/initialized" ]; then
    # A primary that had to take another port on this up (its saved one was taken) leaves its replicas pointing at the
    # old port, where nothing or another cluster's server answers: re-point them. CHANGE MASTER keeps the account and
    # MASTER_USE_GTID=slave_pos, so the replica carries on from the GTIDs it has.
    if [ "$type" != PRIMARY ]; then
      local master_port
      master_port=$(mariadb_as_root "$uid" -e 'SHOW SLAVE STATUS\G' 2>/dev/null | awk '$1 == "Master_Port:" { print $2 }' || true)
      if [ -n "$master_port" ] && [ "$master_port" != "${PORT[mariadb_$primary]}" ]; then
        log "re-pointing replica $(alias_of "$uid") at its primary's port ${PORT[mariadb_$primary]} (was $master_port)"
        mariadb_as_root "$uid" -e "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${PORT[mariadb_$primary]}; START SLAVE;"
      fi
    fi
    return 0
  fi
  if [ "$type" = PRIMARY ]; then
    {
      echo "CREATE DATABASE IF NOT EXISTS \`vt_$ks\`;"
      # The seeds' 101 step: commerce starts with the commerce schema (the rows come with the demo).
      if [ "$ks" = commerce ]; then echo "USE \`vt_$ks\`;"; cat "$SQL_DIR/create_commerce_schema.sql"; fi
      # The external cluster is an application's existing database: it comes with the seeds' rows.
      if [ "$ks" = commerce ] && [ "$LOAD_SAMPLE_DATA" = 1 ]; then cat "$SQL_DIR/insert_commerce_data.sql"; fi
    } | mariadb_as_root "$uid"
  else
    # Real MariaDB GTID replication from the primary's first binlog. The password goes through stdin, never argv.
    mariadb_as_root "$uid" <<SQL
STOP SLAVE;
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${PORT[mariadb_$primary]}, MASTER_USER='$(user_of repl)',
  MASTER_PASSWORD='$(secret repl)', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
SQL
  fi
  touch "$dir/initialized"
}


# ---------------------------------------------------------------------------------------------------------------
# The Functions host, built from this checkout, on the cluster's etcd and Azurite; it registers the tablets.
# ---------------------------------------------------------------------------------------------------------------
HOST_DIR="$LOCAL/host"
FUNCTIONS_DLL="$REPO/src/Functions/bin/Release/net10.0/Durable.Functions.dll"

# Builds a project when its output is missing or any source under src/ is newer (a checkout that moved on).
build_if_stale() { # project-dir dll
  local project=$1 dll=$2
  # bin/ and obj/ are skipped: builds write generated .cs files there after other projects' dlls.
  if [ ! -f "$dll" ] || [ -n "$(find "$REPO/src" \( -name bin -o -name obj \) -prune -o \( -name '*.cs' -o -name '*.csproj' \) -newer "$dll" -print -quit)" ] \
     || [ "$REPO/Directory.Packages.props" -nt "$dll" ]; then
    log "building $(basename "$project") (Release)"
    dotnet build "$project" -c Release -nologo -v quiet -clp:ErrorsOnly >&2 || die "building $project failed"
    touch "$dll"  # an up-to-date incremental build leaves the dll's time alone: mark it checked
  fi
}

host_env() {
  echo "AzureWebJobsStorage=$(azurite_connection_string)"
  echo "AzureWebJobsScriptRoot=$REPO"
  echo "DURABLE_ETCD_ENDPOINTS=http://127.0.0.1:${PORT[etcd_client]}"
  echo "DURABLE_SECRETS_FILE=$SECRETS_FILE"
  echo "ASPNETCORE_URLS=http://127.0.0.1:${PORT[functions]}"
}

host_up() {
  local running=0
  pid_alive "$HOST_DIR/host.pid" Durable.Functions.dll && running=1
  choose_port functions $PORT_BASE_FUNCTIONS $running
  save_ports
  [ $running = 1 ] && return 0
  build_if_stale "$REPO/src/Functions" "$FUNCTIONS_DLL"
  mkdir -p "$HOST_DIR"
  log "starting the Functions host on 127.0.0.1:${PORT[functions]}"
  # The key reaches the host through its environment (readable by this user only), never argv or a log.
  # So are the engine account's credentials, which MoveTables uses on the tablets.
  ( while IFS= read -r kv; do export "${kv?}"; done < <(host_env); DURABLE_HOST_KEY=$(host_key); export DURABLE_HOST_KEY
    DURABLE_ENGINE_USER=$(user_of filtered); DURABLE_ENGINE_PASSWORD=$(secret filtered); export DURABLE_ENGINE_USER DURABLE_ENGINE_PASSWORD
    cd "$REPO" && exec setsid nohup dotnet "$FUNCTIONS_DLL" > "$HOST_DIR/host.log" 2>&1 < /dev/null 9>&- ) &
  echo $! > "$HOST_DIR/host.pid"
}

# The Streamer: applies the binlog of every Running stream registered under the topology's default root.
STREAMER_DLL="$REPO/src/Streamer/bin/Release/net10.0/Durable.Streamer.dll"
streamer_up() {
  local running=0
  pid_alive "$HOST_DIR/streamer.pid" Durable.Streamer.dll && running=1
  # Its HTTP listener (/healthz, /readyz, /metrics): a port per profile, as the Functions host has.
  choose_port streamer_http $PORT_BASE_STREAMER $running
  save_ports
  [ $running = 1 ] && return 0
  build_if_stale "$REPO/src/Streamer" "$STREAMER_DLL"
  mkdir -p "$HOST_DIR"
  log "starting the Streamer (health, readiness and metrics on port ${PORT[streamer_http]})"
  ( Streamer__EtcdEndpoints="http://127.0.0.1:${PORT[etcd_client]}"; Streamer__HttpPort=${PORT[streamer_http]}; Streamer__User=$(user_of filtered); Streamer__Password=$(secret filtered)
    Streamer__ReplicaName="local-$PROFILE-1"; Streamer__SecretsFile="$SECRETS_FILE"  # per-tablet accounts (adopted servers) resolve here
    export Streamer__EtcdEndpoints Streamer__HttpPort Streamer__User Streamer__Password Streamer__ReplicaName Streamer__SecretsFile
    cd "$REPO" && exec setsid nohup dotnet "$STREAMER_DLL" > "$HOST_DIR/streamer.log" 2>&1 < /dev/null 9>&- ) &
  echo $! > "$HOST_DIR/streamer.pid"
}
host_ready() { curl -sf "http://127.0.0.1:${PORT[functions]}/api/health" >/dev/null; }

# ---------------------------------------------------------------------------------------------------------------
# The gateways (src/Gateway, vtgate's role): the MySQL endpoint applications use. Each follows the topology under the
# default root through etcd watches, routes by the routing rules and holds statements while traffic switches. They log
# in to the tablets as the `app` role (an account the write guards do NOT exempt, so a gateway can never write past a
# guard), and accept one client account, durable_client, whose password is generated into secrets.env.
# ---------------------------------------------------------------------------------------------------------------
GATEWAY_DLL="$REPO/src/Gateway/bin/Release/net10.0/Durable.Gateway.dll"
GATEWAY_CLIENT_USER=durable_client
GATEWAY_DIR="$LOCAL/gateway"
gateway_names() { local i; for i in $(seq 1 "$GATEWAYS"); do echo "gateway$i"; done; }

# The ports are chosen before cluster.json is written, so the file lists them (tests and benchmarks read it).
gateway_ports() {
  local name i=0 running
  for name in $(gateway_names); do
    running=0; pid_alive "$GATEWAY_DIR/$name.pid" Durable.Gateway.dll && running=1
    choose_port "${name}_mysql" $((PORT_BASE_GATEWAY_MYSQL + i)) $running
    choose_port "${name}_http" $((PORT_BASE_GATEWAY_HTTP + i)) $running
    i=$((i + 1))
  done
  save_ports
}

# A client options file for the shortcuts (`gateway N`, `mysql`): the password stays in a mode-600 file, off argv.
write_gateway_client_cnf() {
  mkdir -p "$GATEWAY_DIR"
  (umask 077
   printf '[client]\nuser = %s\npassword = %s\nhost = 127.0.0.1\n' "$GATEWAY_CLIENT_USER" "$(secret client)" > "$GATEWAY_DIR/client.cnf.tmp")
  mv "$GATEWAY_DIR/client.cnf.tmp" "$GATEWAY_DIR/client.cnf"
}

gateway_up() { # name
  local name=$1
  pid_alive "$GATEWAY_DIR/$name.pid" Durable.Gateway.dll && return 0
  build_if_stale "$REPO/src/Gateway" "$GATEWAY_DLL"
  mkdir -p "$GATEWAY_DIR"
  log "starting $name on 127.0.0.1:${PORT[${name}_mysql]} (MySQL) and ${PORT[${name}_http]} (health, readiness)"
  # Settings through the environment (section Gateway), the passwords too: never argv, never a log.
  ( export Gateway__EtcdEndpoints="http://127.0.0.1:${PORT[etcd_client]}" Gateway__TopologyRoot=/durable Gateway__Cell="$CELL" \
      Gateway__Name="local-$name" Gateway__MySqlPort="${PORT[${name}_mysql]}" Gateway__HttpPort="${PORT[${name}_http]}" \
      Gateway__BackendUser="$(user_of app)" Gateway__Accounts__0__User="$GATEWAY_CLIENT_USER" \
      Gateway__SecretsFile="$SECRETS_FILE" Gateway__DrainSeconds=10 Gateway__BindAddress=127.0.0.1
    # (SecretsFile: the tablets' own accounts, secret:NAME references, with which the gateway probes replication lag;
    # DrainSeconds: `down` waits 30 s for a process before it kills it, so the drain must end first.)
    Gateway__BackendPassword=$(secret app); Gateway__Accounts__0__Password=$(secret client)
    export Gateway__BackendPassword Gateway__Accounts__0__Password
    cd "$REPO" && exec setsid nohup dotnet "$GATEWAY_DLL" > "$GATEWAY_DIR/$name.log" 2>&1 < /dev/null 9>&- ) &
  echo $! > "$GATEWAY_DIR/$name.pid"
}
# /readyz answers 200 once the gateway has loaded the topology (rules, keyspaces, tablets, holds) and listens.
gateway_ready() { curl -sf "http://127.0.0.1:${PORT[${1}_http]}/readyz" >/dev/null; }

register_tablets() {
  log "registering the local cluster's keyspaces, shards and tablets in the topology"
  DURABLE_FUNCTIONS_KEY=$(host_key) "$LOCAL/bin/durablectl" --server "http://127.0.0.1:${PORT[functions]}" \
    RegisterLocalCluster --cluster-file "$CLUSTER_FILE" > "$HOST_DIR/register.log" 2>&1 \
    || { cat "$HOST_DIR/register.log" >&2; die "registering the tablets failed"; }
}

# ---------------------------------------------------------------------------------------------------------------
# cluster.json: what the code and the tests read (no secrets in it: they stay in secrets.env).
# ---------------------------------------------------------------------------------------------------------------
write_cluster_json() {
  local first=1 uid ks shard type primary
  {
    echo "{"
    echo "  \"cell\": \"$CELL\","
    echo "  \"etcd\": { \"endpoints\": [\"http://127.0.0.1:${PORT[etcd_client]}\"] },"
    echo "  \"azurite\": { \"blobPort\": ${PORT[azurite_blob]}, \"queuePort\": ${PORT[azurite_queue]}, \"tablePort\": ${PORT[azurite_table]}, \"connectionString\": \"$(azurite_connection_string)\" },"
    local client_account=""; [ "$GATEWAYS" -gt 0 ] && client_account=", \"client\": \"$GATEWAY_CLIENT_USER\""
    echo "  \"accounts\": { \"dba\": \"$(user_of dba)\", \"app\": \"$(user_of app)\", \"repl\": \"$(user_of repl)\", \"filtered\": \"$(user_of filtered)\"$client_account },"
    echo "  \"secretsFile\": \"$SECRETS_FILE\","
    # The gateways applications connect to (client account "client" above; none in the external cluster).
    local gw gws=()
    for gw in $(gateway_names); do
      gws+=("{ \"name\": \"$gw\", \"host\": \"127.0.0.1\", \"mysqlPort\": ${PORT[${gw}_mysql]}, \"httpPort\": ${PORT[${gw}_http]} }")
    done
    echo "  \"gateways\": [$(IFS=,; echo "${gws[*]:-}" | sed 's/},{/}, {/g')],"
    echo "  \"tablets\": ["
    while read -r uid ks shard type primary; do
      [ -n "$uid" ] || continue
      [ $first = 1 ] || echo ","
      first=0
      local p=null; [ "$primary" != - ] && p=$primary
      printf '    { "alias": "%s", "uid": %s, "keyspace": "%s", "shard": "%s", "type": "%s", "host": "127.0.0.1", "port": %s, "dbName": "vt_%s", "socket": "%s", "primaryUid": %s }' \
        "$(alias_of "$uid")" "$uid" "$ks" "$shard" "$type" "${PORT[mariadb_$uid]}" "$ks" "$(tablet_dir "$uid")/mariadbd.sock" "$p"
    done <<< "$TABLETS"
    echo ""
    echo "  ]"
    echo "}"
  } > "$CLUSTER_FILE.tmp"
  if cmp -s "$CLUSTER_FILE.tmp" "$CLUSTER_FILE"; then rm -f "$CLUSTER_FILE.tmp"; else mv "$CLUSTER_FILE.tmp" "$CLUSTER_FILE"; fi
}

write_bin_wrappers() {
  mkdir -p "$LOCAL/bin"
  cat > "$LOCAL/bin/durablectl" <<SH
#!/usr/bin/env bash
# durablectl from this checkout, (re)built when missing or older than the sources.
dll="$REPO/src/Cli/bin/Release/net10.0/durablectl.dll"
if [ ! -f "\$dll" ] || [ -n "\$(find "$REPO/src" \( -name bin -o -name obj \) -prune -o \( -name '*.cs' -o -name '*.csproj' \) -newer "\$dll" -print -quit)" ]; then
  dotnet build "$REPO/src/Cli" -c Release -nologo -v quiet -clp:ErrorsOnly >&2 || exit 1
  touch "\$dll"  # an up-to-date incremental build leaves the dll's time alone: mark it checked
fi
exec dotnet "\$dll" "\$@"
SH
  chmod +x "$LOCAL/bin/durablectl"
}

# ---------------------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------------------
cmd_up() {
  local started servers_only=0; started=$(date +%s)
  local with_external=0 opt
  for opt in "$@"; do
    case "$opt" in
      --servers-only) servers_only=1 ;;
      --with-external) [ "$PROFILE" = main ] || die "--with-external is an option of the main cluster"; with_external=1 ;;
      *) die "unknown option '$opt' for up (valid: --servers-only, --with-external)" ;;
    esac
  done
  install_missing
  # Take the lock first, so two `up`s (a test run and a demo) never race on the secrets or the data directories.
  mkdir -p "$LOCAL"
  exec 9> "$LOCAL/.cluster.lock"; flock 9
  ensure_secrets
  load_ports
  etcd_up
  azurite_up
  build_template
  local uid ks shard type primary
  # Primaries first, so replicas find them.
  while read -r uid ks shard type primary; do [ "$type" = PRIMARY ] && tablet_up "$uid" "$ks" "$shard" "$type" "$primary"; done <<< "$TABLETS"
  while read -r uid ks shard type primary; do [ -n "$uid" ] && [ "$type" != PRIMARY ] && tablet_up "$uid" "$ks" "$shard" "$type" "$primary"; done <<< "$TABLETS"
  wait_for 60 "etcd" etcd_ready
  wait_for 60 "Azurite" azurite_ready
  while read -r uid ks shard type primary; do [ -n "$uid" ] && wait_for 90 "tablet $(alias_of "$uid")" tablet_ready "$uid"; done <<< "$TABLETS"
  while read -r uid ks shard type primary; do [ "$type" = PRIMARY ] && tablet_init "$uid" "$ks" "$shard" "$type" "$primary"; done <<< "$TABLETS"
  while read -r uid ks shard type primary; do [ -n "$uid" ] && [ "$type" != PRIMARY ] && tablet_init "$uid" "$ks" "$shard" "$type" "$primary"; done <<< "$TABLETS"
  gateway_ports
  write_cluster_json
  write_bin_wrappers
  if [ $servers_only = 1 ]; then
    touch "$LOCAL/servers-only"
  else
    rm -f "$LOCAL/servers-only"
    host_up
    streamer_up
    wait_for 120 "the Functions host (see $HOST_DIR/host.log)" host_ready
    # Registration is idempotent, but `up` with everything running should stay a no-op: register when the host or
    # the tablet list is new to the topology.
    if [ ! -f "$HOST_DIR/registered" ] || [ "$CLUSTER_FILE" -nt "$HOST_DIR/registered" ] || [ "$HOST_DIR/host.pid" -nt "$HOST_DIR/registered" ]; then
      register_tablets
      touch "$HOST_DIR/registered"
    fi
    # After the registration: a gateway loads the topology before it accepts a connection.
    if [ "$GATEWAYS" -gt 0 ]; then
      write_gateway_client_cnf
      local gw
      for gw in $(gateway_names); do gateway_up "$gw"; done
      for gw in $(gateway_names); do wait_for 90 "$gw (see $GATEWAY_DIR/$gw.log)" gateway_ready "$gw"; done
    fi
  fi
  if [ $with_external = 1 ]; then
    touch "$LOCAL/with-external"
    flock -u 9
    local sub=(); [ $servers_only = 1 ] && sub=(--servers-only)
    log "bringing up the external cluster (Migrate's source) under $EXTERNAL_LOCAL"
    external "up" "${sub[@]}"
    sync_external_engine_secret
  fi
  log "$PROFILE cluster up in $(( $(date +%s) - started ))s ($CLUSTER_FILE); eval \"\$($0 env)\" for the shell settings"
}

# Runs this script on the external cluster.
external() { DURABLE_CLUSTER_PROFILE=external DURABLE_LOCAL_DIR="$EXTERNAL_LOCAL" DURABLE_MAIN_SECRETS_FILE="$SECRETS_FILE" bash "${BASH_SOURCE[0]}" "$@"; }

cmd_down() {
  if [ "$PROFILE" = main ] && [ -f "$EXTERNAL_LOCAL/ports.env" ]; then external down; rm -f "$LOCAL/with-external"; fi
  load_ports
  local uid ks shard type primary
  local gw
  for gw in $(gateway_names); do stop_pid "$GATEWAY_DIR/$gw.pid" Durable.Gateway.dll "$gw"; done
  stop_pid "$HOST_DIR/host.pid" Durable.Functions.dll "the Functions host"
  stop_pid "$HOST_DIR/streamer.pid" Durable.Streamer.dll "the Streamer"
  # Replicas first so they do not spin reconnecting to a stopped primary.
  while read -r uid ks shard type primary; do [ -n "$uid" ] && [ "$type" != PRIMARY ] && stop_pid "$(tablet_dir "$uid")/mariadbd.pid" mariadbd "tablet $(alias_of "$uid")"; done <<< "$TABLETS"
  while read -r uid ks shard type primary; do [ "$type" = PRIMARY ] && stop_pid "$(tablet_dir "$uid")/mariadbd.pid" mariadbd "tablet $(alias_of "$uid")"; done <<< "$TABLETS"
  stop_pid "$AZ_DIR/azurite.pid" azurite Azurite
  stop_pid "$ETCD_DIR/etcd.pid" /usr/bin/etcd etcd
}

# MirrorTraffic's counters from a running gateway's /status, when it has mirrored anything (else nothing is printed).
gateway_mirror() {
  local gw=$1 state=$2 json mirrored dropped errors
  [ "$state" = up ] || return 0
  json=$(curl -sf --max-time 1 "http://127.0.0.1:${PORT[${gw}_http]}/status" 2>/dev/null) || return 0
  mirrored=$(grep -o '"statements_mirrored":[0-9]*' <<< "$json" | cut -d: -f2)
  dropped=$(grep -o '"dropped":[0-9]*' <<< "$json" | cut -d: -f2)
  errors=$(grep -o '"target_errors":[0-9]*' <<< "$json" | cut -d: -f2)
  if [ "${mirrored:-0}" != 0 ] || [ "${dropped:-0}" != 0 ]; then
    printf '  (mirror: %s mirrored, %s dropped, %s target errors)' "${mirrored:-0}" "${dropped:-0}" "${errors:-0}"
  fi
}

cmd_status() {
  load_ports
  local uid ks shard type primary state any_down=0
  printf '%-18s %-30s %-11s %s\n' NAME ROLE PORT STATE
  state=down; pid_alive "$ETCD_DIR/etcd.pid" /usr/bin/etcd && state=up
  [ $state = down ] && any_down=1
  printf '%-18s %-30s %-11s %s\n' etcd topology "${PORT[etcd_client]:--}" $state
  state=down; pid_alive "$AZ_DIR/azurite.pid" azurite && state=up
  [ $state = down ] && any_down=1
  printf '%-18s %-30s %-11s %s\n' azurite "task hub (blob)" "${PORT[azurite_blob]:--}" $state
  printf '%-18s %-30s %-11s %s\n' azurite "task hub (queue)" "${PORT[azurite_queue]:--}" $state
  printf '%-18s %-30s %-11s %s\n' azurite "task hub (table)" "${PORT[azurite_table]:--}" $state
  state=down; pid_alive "$HOST_DIR/host.pid" Durable.Functions.dll && state=up
  # After `up --servers-only` the host is off by choice, not down.
  if [ $state = down ] && [ -f "$LOCAL/servers-only" ]; then state=off; fi
  [ $state = down ] && any_down=1
  printf '%-18s %-30s %-11s %s\n' functions "Functions host (HTTP API)" "${PORT[functions]:--}" $state
  state=down; pid_alive "$HOST_DIR/streamer.pid" Durable.Streamer.dll && state=up
  if [ $state = down ] && [ -f "$LOCAL/servers-only" ]; then state=off; fi
  [ $state = down ] && any_down=1
  printf '%-18s %-30s %-11s %s\n' streamer "Streamer (binlog worker)" - $state
  local gw
  for gw in $(gateway_names); do
    state=down; pid_alive "$GATEWAY_DIR/$gw.pid" Durable.Gateway.dll && state=up
    if [ $state = down ] && [ -f "$LOCAL/servers-only" ]; then state=off; fi
    [ $state = down ] && any_down=1
    printf '%-18s %-30s %-11s %s%s\n' "$gw" "gateway (vtgate's role)" "${PORT[${gw}_mysql]:--}/${PORT[${gw}_http]:--}" $state "$(gateway_mirror "$gw" $state)"
  done
  while read -r uid ks shard type primary; do
    [ -n "$uid" ] || continue
    state=down; pid_alive "$(tablet_dir "$uid")/mariadbd.pid" mariadbd && state=up
    [ $state = down ] && any_down=1
    printf '%-18s %-30s %-11s %s\n' "$(alias_of "$uid")" "$ks/$shard $type" "${PORT[mariadb_$uid]:--}" $state
  done <<< "$TABLETS"
  if [ "$PROFILE" = main ] && [ -f "$EXTERNAL_LOCAL/ports.env" ]; then
    echo
    echo "external cluster ($EXTERNAL_LOCAL):"
    # It counts as down only while it is meant to run (since `up --with-external`, until `down`).
    if ! external status && [ -f "$LOCAL/with-external" ]; then any_down=1; fi
  fi
  return $any_down
}

cmd_env() {
  load_ports
  [ -f "$CLUSTER_FILE" ] || die "the cluster has not been started: run $0 up"
  local uid ks shard type primary
  cat <<ENV
# Durable local cluster ($CLUSTER_FILE). Passwords stay in $SECRETS_FILE.
export DURABLE_LOCAL_DIR='$LOCAL'
export DURABLE_CLUSTER_FILE='$CLUSTER_FILE'
export DURABLE_SECRETS_FILE='$SECRETS_FILE'
export DURABLE_CELL='$CELL'
export DURABLE_ETCD_ENDPOINTS='http://127.0.0.1:${PORT[etcd_client]}'
export ETCDCTL_API=3
export AzureWebJobsStorage='$(azurite_connection_string)'
export DURABLE_SERVER='http://127.0.0.1:${PORT[functions]:-7071}'
# The host's function key, read from the secrets file when this is evaluated (never printed here).
export DURABLE_FUNCTIONS_KEY="\$(grep '^DURABLE_HOST_KEY=' '$SECRETS_FILE' | cut -d= -f2-)"
export PATH='$LOCAL/bin':"\$PATH"
# etcdctl against the cluster's etcd (a shell function, not ETCDCTL_ENDPOINTS, which would clash with programs that pass --endpoints)
etcdctl() { command etcdctl --endpoints='http://127.0.0.1:${PORT[etcd_client]}' "\$@"; }
# tablet UID [mariadb args...]: a mariadb client on one tablet as the dba account, e.g. tablet 100 -e 'SHOW SLAVE STATUS'
tablet() { local uid=\$1; shift; mariadb --defaults-extra-file="$LOCAL/mariadb/$CELL-\$(printf %010d "\$uid")/client.cnf" "\$@"; }
ENV
  if [ "$PROFILE" = main ] && [ -f "$EXTERNAL_LOCAL/cluster.json" ]; then
    local ext_etcd; ext_etcd=$(grep '^etcd_client=' "$EXTERNAL_LOCAL/ports.env" | cut -d= -f2)
    cat <<ENV
# The external cluster (Migrate's source): its own etcd, host and tablets.
export DURABLE_EXTERNAL_CLUSTER_FILE='$EXTERNAL_LOCAL/cluster.json'
export DURABLE_EXTERNAL_ETCD_ENDPOINTS='http://127.0.0.1:$ext_etcd'
external_tablet() { local uid=\$1; shift; mariadb --defaults-extra-file="$EXTERNAL_LOCAL/mariadb/$CELL-\$(printf %010d "\$uid")/client.cnf" "\$@"; }
ENV
  fi
  [ "$PROFILE" = external ] && return 0
  # (A cluster last brought up before the gateways existed has no gateway ports yet: its next `up` chooses them.)
  if [ "$GATEWAYS" -gt 0 ] && [ -n "${PORT[gateway1_mysql]:-}" ]; then
    local gw ports=() cases=""
    for gw in $(gateway_names); do ports+=("${PORT[${gw}_mysql]}"); cases+="${gw#gateway}) port=${PORT[${gw}_mysql]} ;; "; done
    cat <<ENV
# The gateways (vtgate's role): applications connect here, by keyspace (commerce, commerce@replica, commerce@rdonly).
export DURABLE_GATEWAY_HOST=127.0.0.1
export DURABLE_GATEWAY_PORTS='$(IFS=,; echo "${ports[*]}")'
export DURABLE_GATEWAY_USER='$GATEWAY_CLIENT_USER'
# The client account's password, read from the secrets file when this is evaluated (never printed here).
export DURABLE_GATEWAY_PASSWORD="\$(grep '^DURABLE_CLIENT_PASSWORD=' '$SECRETS_FILE' | cut -d= -f2-)"
# gateway N [mariadb args...]: the mariadb client on gateway N as the client account, e.g. gateway 2 commerce@replica -e 'select 1'
gateway() { local port; case "\$1" in $cases*) echo "gateway: which gateway? 1-$GATEWAYS (got '\$1')" >&2; return 2 ;; esac; shift
  mariadb --defaults-extra-file='$GATEWAY_DIR/client.cnf' -P "\$port" "\$@"; }
# mysql [keyspace] [args...]: as the seeds' \`mysql\` alias reaches vtgate: mysql -e 'show vitess_tablets', mysql commerce, mysql commerce@replica
mysql() { gateway 1 "\$@"; }
ENV
  fi
  # Direct to the tablets (setup steps, and what the gateways protect against): one shortcut per keyspace primary,
  # e.g. mysql_commerce -e 'select * from customer'
  while read -r uid ks shard type primary; do
    [ "$type" = PRIMARY ] || continue
    local fn="mysql_${ks}"; [ "$shard" != 0 ] && fn="mysql_${ks}_$(echo "$shard" | tr -- '-' '_' | sed 's/^_/x/; s/_$/x/')"
    echo "$fn() { tablet $uid vt_$ks \"\$@\"; }"
  done <<< "$TABLETS"
}

cmd_reset() {
  cmd_down
  log "deleting tablet, etcd and Azurite data (ports, passwords and the template are kept)"
  rm -rf "$LOCAL/mariadb" "$ETCD_DIR" "$AZ_DIR"
  cmd_up
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 up|down|status|env|reset" >&2; exit 2 ;;
esac
