# Shared by bench/benchmarks/durable-*.sh: build the bench program once, take the cluster's Azurite from its env.
# Every durable benchmark runs the host's engine (src/Functions/Engine: Microsoft.DurableTask on the Durable Task
# Framework's Azure Storage provider) with the product's default durable settings on a fresh task hub that the run
# deletes. DURABLE_BENCH_SKIP_BUILD=1 reuses the Release build already there; DURABLE_BENCH_LOG=1 shows the framework's
# log of the in-process benchmarks (durable-sequential, durable-fanout) on stderr.
DURABLE_BENCH_DLL="bench/Durable.Bench/bin/Release/net10.0/Durable.Bench.dll"

durable_bench_setup() {
  eval "$(./infra/local/cluster.sh env)"
  export AzureWebJobsStorage
  if [ "${DURABLE_BENCH_SKIP_BUILD:-0}" != 1 ]; then
    dotnet build bench/Durable.Bench -c Release -v quiet -nologo >/dev/null \
      || { echo "durable bench: building bench/Durable.Bench failed" >&2; return 1; }
  fi
  DURABLE_BENCH_ERR="$(mktemp -t durable-bench.XXXXXX)"
}

# Runs one benchmark program: the number goes to stdout; its diagnostics (storage requests per activity, latencies)
# are kept per program, one line per run, for bench_context.
durable_bench_run() {
  dotnet "$DURABLE_BENCH_DLL" "$@" 2>"$DURABLE_BENCH_ERR.run" || { cat "$DURABLE_BENCH_ERR.run" >&2; return 1; }
  { tr '\n' ' ' <"$DURABLE_BENCH_ERR.run"; echo; } >>"$DURABLE_BENCH_ERR.$1"
}

durable_bench_context() {
  local f
  for f in "$DURABLE_BENCH_ERR".*; do
    [ -e "$f" ] && [ "${f##*.}" != run ] && sed "s/^/   ${f##*.}: /" "$f"
  done
  echo "   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
}

durable_bench_teardown() { rm -f "${DURABLE_BENCH_ERR:-}" "${DURABLE_BENCH_ERR:-}".*; }
