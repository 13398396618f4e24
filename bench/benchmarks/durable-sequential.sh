# durable-sequential: one orchestration calling 100 no-op activities one after another, in activities/s, run by the
# host's engine in-process (TaskHub: Microsoft.DurableTask on the Durable Task Framework's Azure Storage provider) on
# Azurite with the product's default durable settings and a fresh task hub per run. The clock starts once the worker
# owns every partition and a one-activity warm-up instance has completed. Anchor: raw Azurite queue round trips/s
# (send, receive, delete of one message, sequential, Azure.Storage.Queues as the engine uses it), the storage floor
# every activity pays several times. No goal: the product's activities take seconds (copy chunks), so the rate is far
# above the need; the ratio is watched for regressions and the storage requests per activity are the cost metric.
UNIT="activities/s"
ANCHOR="raw Azurite queue send+receive+delete round trips/s"
DESCRIPTION="chain of ${BENCH_DURABLE_STEPS:-100} sequential activities on Azurite (host engine, default settings)"
source bench/Durable.Bench/DurableTask/durable-common.sh

bench_setup() { durable_bench_setup; }
bench_ours() { durable_bench_run durable-sequential "${BENCH_DURABLE_STEPS:-100}"; }
bench_anchor() { durable_bench_run durable-queue-floor "${BENCH_FLOOR_SECONDS:-10}"; }
bench_context() {
  durable_bench_context
  echo "   published Durable Functions (Azure Storage provider) figures for context: ~5 activities/s sequential, ~100 activities/s fan-out per instance"
}
bench_teardown() { durable_bench_teardown; }
