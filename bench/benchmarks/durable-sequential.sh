# durable-sequential: one orchestration calling 100 no-op activities one after another on the Azure Storage task hub
# (Azurite), in activities/s. Anchor: raw Azurite queue round trips/s (put, get, delete of one message, sequential,
# same REST client), the storage floor every activity pays several times. Goal: ratio >= 0.2.
UNIT="activities/s"
ANCHOR="raw Azurite queue put+get+delete round trips/s"
DESCRIPTION="chain of 100 sequential activities on Azurite"
source bench/Durable.Bench/DurableTask/durable-common.sh

bench_setup() { durable_bench_setup; }
bench_ours() { durable_bench_run durable-sequential "${BENCH_DURABLE_STEPS:-100}"; }
bench_anchor() { durable_bench_run durable-queue-floor "${BENCH_FLOOR_SECONDS:-10}"; }
bench_context() { durable_bench_context; }
bench_teardown() { durable_bench_teardown; }
