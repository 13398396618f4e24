# Helpers for the mysql-* benchmarks: private MariaDB servers in temp directories, so measurements run on quiet
# servers and never touch the shared cluster. Sourced by bench/benchmarks/mysql-*.sh.
#   pm_start NAME [mariadbd options...]   starts server NAME; sets PM_PORT_<NAME>, PM_DIR_<NAME>, PM_SOCK_<NAME>
#   pm_stop NAME                          stops it and removes its directory
#   pm_sql NAME SQL                       runs SQL as root over the socket (batch mode, no column names)
# The benchmark account's password is generated per run into BENCH_MYSQL_PASSWORD and never printed.

pm_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

pm_start() {
  local name=$1; shift
  local dir port
  dir=$(mktemp -d "/tmp/durable-bench-$name-XXXXXX")
  port=$(pm_free_port)
  local user_opt=(); [ "$(id -u)" = 0 ] && user_opt=(--user=root)
  mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=socket --skip-test-db "${user_opt[@]}" >"$dir/install.log" 2>&1 \
    || { echo "mariadb-install-db failed, see $dir/install.log" >&2; return 1; }
  mariadbd --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 --socket="$dir/sock" \
    --pid-file="$dir/pid" --log-error="$dir/error.log" --skip-name-resolve --max-allowed-packet=1G \
    --character-set-server=utf8mb4 --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 "${user_opt[@]}" "$@" >/dev/null 2>&1 &
  local i
  for i in $(seq 1 300); do
    mariadb --no-defaults -S "$dir/sock" -uroot -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
  done
  mariadb --no-defaults -S "$dir/sock" -uroot -e "SELECT 1" >/dev/null 2>&1 || { echo "private mariadbd $name did not start: $(tail -5 "$dir/error.log")" >&2; return 1; }
  : "${BENCH_MYSQL_PASSWORD:=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)}"
  export BENCH_MYSQL_PASSWORD
  mariadb --no-defaults -S "$dir/sock" -uroot <<<"CREATE USER bench@'%' IDENTIFIED BY '$BENCH_MYSQL_PASSWORD'; GRANT ALL ON *.* TO bench@'%';"
  printf -v "PM_PORT_$name" '%s' "$port"; printf -v "PM_DIR_$name" '%s' "$dir"; printf -v "PM_SOCK_$name" '%s' "$dir/sock"
  export "PM_PORT_$name" "PM_DIR_$name" "PM_SOCK_$name"
}

# SQL goes through stdin so a password in it never shows in the process list.
pm_sql() { local sock_var="PM_SOCK_$1"; mariadb --no-defaults -S "${!sock_var}" -uroot -N -B <<<"$2"; }

pm_stop() {
  local dir_var="PM_DIR_$1" dir
  dir=${!dir_var:-}
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  if [ -f "$dir/pid" ]; then
    local pid; pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

# Seconds since the epoch with nanoseconds, for timing a command from the shell.
pm_now() { date +%s.%N; }

# The Release build of the benchmark program (built once in bench_setup).
BENCH_DLL="bench/Durable.Bench/bin/Release/net10.0/Durable.Bench.dll"
pm_build() { dotnet build bench/Durable.Bench -c Release -v q -nologo >/dev/null || { echo "building bench/Durable.Bench failed" >&2; return 1; }; }
