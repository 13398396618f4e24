# durable-fanout: one orchestration fanning out 1,000 no-op activities and waiting for all of them on the Azure
# Storage task hub (Azurite), in activities/s. Anchor: raw Azurite queue round trips/s (put, get, delete of one
# message, sequential, same REST client). Goal: ratio >= 0.4.
UNIT="activities/s"
ANCHOR="raw Azurite queue put+get+delete round trips/s"
DESCRIPTION="fan-out/fan-in of 1,000 activities on Azurite"
source bench/Durable.Bench/DurableTask/durable-common.sh

bench_setup() { durable_bench_setup; }
bench_ours() { durable_bench_run durable-fanout "${BENCH_DURABLE_FANOUT:-1000}"; }
bench_anchor() { durable_bench_run durable-queue-floor "${BENCH_FLOOR_SECONDS:-10}"; }
bench_context() { durable_bench_context; }
bench_teardown() { durable_bench_teardown; }
