# Shared by bench/benchmarks/durable-*.sh: build the bench program once, take the cluster's Azurite from its env.
DURABLE_BENCH_DLL="bench/Durable.Bench/bin/Release/net10.0/Durable.Bench.dll"

durable_bench_setup() {
  eval "$(./infra/local/cluster.sh env)"
  export AzureWebJobsStorage
  dotnet build bench/Durable.Bench -c Release -v quiet -nologo >/dev/null \
    || { echo "durable bench: building bench/Durable.Bench failed" >&2; return 1; }
  DURABLE_BENCH_ERR="$(mktemp -t durable-bench.XXXXXX)"
}

# Runs one benchmark program; its diagnostics (per program: ours prints its storage requests per activity) go to a
# file shown by bench_context, the number to stdout.
durable_bench_run() {
  dotnet "$DURABLE_BENCH_DLL" "$@" 2>"$DURABLE_BENCH_ERR.$1" || { cat "$DURABLE_BENCH_ERR.$1" >&2; return 1; }
}

durable_bench_context() {
  local f
  for f in "$DURABLE_BENCH_ERR".*; do
    [ -e "$f" ] && echo "   last ${f##*.}: $(tr '\n' ' ' <"$f")"
  done
  echo "   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "   published Durable Functions (Azure Storage provider) figures for context: ~5 activities/s sequential, ~100 activities/s fan-out per instance"
}

durable_bench_teardown() { rm -f "${DURABLE_BENCH_ERR:-}" "${DURABLE_BENCH_ERR:-}".*; }
