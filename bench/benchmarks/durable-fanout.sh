# durable-fanout: one orchestration fanning out 1,000 no-op activities and waiting for all of them, in activities/s,
# run by the host's engine in-process (TaskHub: Microsoft.DurableTask on the Durable Task Framework's Azure Storage
# provider) on Azurite with the product's default durable settings (among them at most 10 activities per core at
# once) and a fresh task hub per run; the clock starts once the worker owns every partition and a one-activity warm-up
# instance has completed. Anchor: raw Azurite queue round trips/s (send, receive, delete of one
# message, sequential, Azure.Storage.Queues). No goal: a VDiff fans out one activity per shard, far below this rate;
# the ratio is watched for regressions and the storage requests per activity are the cost metric.
UNIT="activities/s"
ANCHOR="raw Azurite queue send+receive+delete round trips/s"
DESCRIPTION="fan-out/fan-in of ${BENCH_DURABLE_FANOUT:-1000} activities on Azurite (host engine, default settings)"
source bench/Durable.Bench/DurableTask/durable-common.sh

bench_setup() { durable_bench_setup; }
bench_ours() { durable_bench_run durable-fanout "${BENCH_DURABLE_FANOUT:-1000}"; }
bench_anchor() { durable_bench_run durable-queue-floor "${BENCH_FLOOR_SECONDS:-10}"; }
bench_context() {
  durable_bench_context
  echo "   published Durable Functions (Azure Storage provider) figures for context: ~5 activities/s sequential, ~100 activities/s fan-out per instance"
}
bench_teardown() { durable_bench_teardown; }
