# durable-event: how long an HTTP-posted command takes to reach the orchestration's next activity. A probe host (the
# Functions host built as src/Functions/Program.cs builds it, serving a benchmark-only orchestration; product default
# durable settings; private task hub, port and key) runs an instance that waits for an event and then calls an
# activity recording when it started. Each of 20 posts (one more before them is not counted) is
# POST /runtime/webhooks/durabletask/instances/{id}/raiseEvent/Go, sent after 1-2 s of idle hub; its latency runs from
# just before the POST to the activity's start. BENCH_EVENT_HOSTS=2 adds a second host on the hub and posts to the one
# that does not own the instance's partition. Reported as 1/median (per second, higher is better); the run's median
# and p99 are printed below. Anchor: one Azurite queue round trip (send+receive+delete, 1/median of 20), the floor of
# any message-driven hand-over. Goal: median <= 1 s, i.e. ours >= 1 /s.
UNIT="1/s (1 / median latency)"
ANCHOR="one Azurite queue send+receive+delete round trip (1 / median of ${BENCH_EVENT_POSTS:-20})"
DESCRIPTION="HTTP-posted event to the orchestration's next activity, median and p99 of ${BENCH_EVENT_POSTS:-20}, ${BENCH_EVENT_HOSTS:-1} host(s) (goal: median <= 1 s)"
source bench/Durable.Bench/DurableTask/durable-common.sh

bench_setup() { durable_bench_setup; }
bench_ours() { durable_bench_run durable-event "${BENCH_EVENT_POSTS:-20}" "${BENCH_EVENT_HOSTS:-1}"; }
bench_anchor() { durable_bench_run durable-queue-roundtrip "${BENCH_EVENT_POSTS:-20}"; }
bench_context() {
  durable_bench_context
  echo "   goal: median <= 1 s (ours >= 1 /s)"
}
bench_teardown() { durable_bench_teardown; }
