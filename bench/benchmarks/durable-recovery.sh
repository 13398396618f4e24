# durable-recovery: what a kill -9 of the host costs. A probe host (the Functions host built as src/Functions/Program.cs
# builds it, serving benchmark-only orchestrations; product default durable settings; private task hub) runs one
# instance inside a long activity and one waiting for an event. The host is SIGKILLed 1-6 s into the activity and a new
# host process is started at once, as a supervisor would; the event is posted to it as soon as it listens. Measured
# from the kill: until the activity starts again on the new host (goal 30 s) and until the waiting instance runs its
# next activity (goal 60 s). There is no tool to run side by side: the anchor is the goal, in the same unit. Reported as
# min(30 s / activity re-run, 60 s / resume): >= 1 when both goals are met; each run's times are printed below.
# Each host gets the product's default worker id (machine name and process id); BENCH_RECOVERY_SAME_WORKER=1 gives
# both one WEBSITE_INSTANCE_ID instead, as a replica restarted under a stable name.
UNIT="x goal (min of 30 s / activity re-run, 60 s / resume)"
ANCHOR="goal: activity again within 30 s and waiting instance resumed within 60 s of the kill"
DESCRIPTION="kill -9 of the host inside an activity: until it runs again (goal 30 s) and until a waiting instance resumes (goal 60 s)"
source bench/Durable.Bench/DurableTask/durable-common.sh

bench_setup() { durable_bench_setup; }
bench_ours() { durable_bench_run durable-recovery $([ "${BENCH_RECOVERY_SAME_WORKER:-0}" = 1 ] && echo same-worker); }
# The documented goals, in the benchmark's unit.
bench_anchor() { echo 1; }
bench_context() { durable_bench_context; }
bench_teardown() { durable_bench_teardown; }
