#!/usr/bin/env bash
# Runs every test of Durable: brings up the local cluster the integration tests need, builds, runs all test projects,
# and prints one closing line: "tests: N passed, N failed, N skipped" (counted from the test results, not guessed).
#
#   ./infra/test.sh              everything (unit + integration against the local cluster)
#   ./infra/test.sh --unit       only the fast unit tests (no servers)
#   ./infra/test.sh [--unit] [-- dotnet-test-args...]   e.g. -- --filter FullyQualifiedName~Positions
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

unit_only=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --unit) unit_only=1 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "test.sh: unknown option '$1' (valid: --unit, -- <dotnet test args>)" >&2; exit 2 ;;
  esac
  shift
done

results="$REPO/TestResults"
rm -rf "$results"; mkdir -p "$results"
summary_file="$results/summary.txt"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if ! dotnet build Durable.sln -c Release -nologo -clp:ErrorsOnly; then
  echo "test.sh: build failed" >&2
  echo "tests: 0 passed, 1 failed, 0 skipped" | tee "$summary_file"
  exit 1
fi

# The cluster comes up after the build, so the Functions host it starts is the one just built.
if [ $unit_only = 0 ]; then
  ./infra/local/cluster.sh up --with-external || { echo "test.sh: the local cluster did not come up" >&2; echo "tests: 0 passed, 1 failed, 0 skipped" | tee "$summary_file"; exit 1; }
  eval "$(./infra/local/cluster.sh env)"
fi

filter=()
[ $unit_only = 1 ] && filter=(--filter "Category!=Integration")
# Test projects run one after another: integration tests share the cluster and the machine has two cores.
dotnet test Durable.sln -c Release --no-build -nologo -m:1 \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
  "${filter[@]}" "${extra[@]}" 2>&1 | tee "$results/dotnet-test.log" | grep -vE '^\s+Passed |^$'
test_rc=${PIPESTATUS[0]}

# Count from the .trx files: passed, failed (failed + error + timeout + aborted), skipped (not executed).
read -r passed failed skipped < <(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
p = f = s = 0
for path in glob.glob(sys.argv[1] + "/**/*.trx", recursive=True):
    c = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    if c is None: continue
    g = lambda k: int(c.get(k, "0"))
    p += g("passed"); f += g("failed") + g("error") + g("timeout") + g("aborted")
    s += g("notExecuted") + g("notRunnable") + g("inconclusive")
print(p, f, s)
PY
)
# A test host that crashed writes no result for its remaining tests: count the crash as a failure.
if [ "$test_rc" != 0 ] && [ "${failed:-0}" = 0 ]; then failed=1; fi
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped" | tee "$summary_file"
[ "$test_rc" = 0 ] && [ "${failed:-0}" = 0 ]
