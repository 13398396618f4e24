#!/usr/bin/env bash
# Benchmark harness: runs one benchmark (or all) against its anchor tool in the same run and prints
#   NAME: ratio R (ours V UNIT, ANCHOR V UNIT)
# R is our speed divided by the anchor's (R > 1: faster than the anchor). Each side is the median of REPEAT runs
# (default 3, at least 3), its min-max printed above. Runs alternate ours/anchor so drift hits both sides alike.
#
#   bench/run.sh NAME        one benchmark (bench/benchmarks/NAME.sh)
#   bench/run.sh all         every benchmark, one after another
#   bench/run.sh list        the benchmark names
#
# A benchmark file defines UNIT, ANCHOR, bench_ours, bench_anchor (each prints one number, higher is better, as its
# last stdout line), and optionally DESCRIPTION, bench_setup, bench_teardown, bench_context (extra lines to print).
# Benchmarks are not part of CI. The local cluster is brought up first; benchmarks that need quiet servers start
# private ones.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
REPEAT="${REPEAT:-3}"
[ "$REPEAT" -ge 3 ] 2>/dev/null || { echo "bench/run.sh: REPEAT must be a whole number >= 3 (got '$REPEAT')" >&2; exit 2; }

names() { for f in bench/benchmarks/*.sh; do [ -e "$f" ] && basename "$f" .sh; done; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
minmax() { sort -g | awk 'NR==1{min=$1} {max=$1} END{print min "-" max}'; }

last_number() { # the last line of a run's output must be a number
  local v; v=$(tail -n 1 | tr -d '[:space:]')
  [[ "$v" =~ ^[0-9]+([.][0-9]+)?([eE][+-]?[0-9]+)?$ ]] || { echo "bench: a run printed '$v' where a number was expected" >&2; return 1; }
  echo "$v"
}

run_one() {
  local name=$1 file="bench/benchmarks/$1.sh"
  [ -f "$file" ] || { echo "bench/run.sh: no benchmark '$name'; known: $(names | tr '\n' ' ')" >&2; return 2; }
  (
    UNIT=""; ANCHOR=""; DESCRIPTION=""
    bench_setup() { :; }; bench_teardown() { :; }; bench_context() { :; }
    # shellcheck disable=SC1090
    source "$file"
    [ -n "$UNIT" ] && [ -n "$ANCHOR" ] || { echo "bench: $file must set UNIT and ANCHOR" >&2; exit 2; }
    trap bench_teardown EXIT
    echo "== $name: ${DESCRIPTION:-$name} (anchor: $ANCHOR, $REPEAT runs each)"
    bench_setup
    local ours=() anchor=() i v
    for i in $(seq 1 "$REPEAT"); do
      v=$(bench_ours | last_number); ours+=("$v"); echo "   run $i ours:   $v $UNIT"
      v=$(bench_anchor | last_number); anchor+=("$v"); echo "   run $i anchor: $v $UNIT"
    done
    local om am
    om=$(printf '%s\n' "${ours[@]}" | median); am=$(printf '%s\n' "${anchor[@]}" | median)
    echo "   ours   median $om $UNIT (min-max $(printf '%s\n' "${ours[@]}" | minmax))"
    echo "   anchor median $am $UNIT (min-max $(printf '%s\n' "${anchor[@]}" | minmax))"
    bench_context
    awk -v n="$name" -v o="$om" -v a="$am" -v u="$UNIT" -v an="$ANCHOR" \
      'BEGIN { r = (a > 0) ? o / a : 0; printf "%s: ratio %.2f (ours %s %s, %s %s %s)\n", n, r, o, u, an, a, u }'
  )
}

case "${1:-}" in
  ""|-h|--help) sed -n '2,16p' "$0"; exit 2 ;;
  list) names ;;
  all)
    ./infra/local/cluster.sh up >/dev/null 2>&1 || { echo "bench/run.sh: the local cluster did not come up (./infra/local/cluster.sh up)" >&2; exit 1; }
    rc=0; for n in $(names); do run_one "$n" || rc=1; done; exit $rc ;;
  *)
    ./infra/local/cluster.sh up >/dev/null 2>&1 || { echo "bench/run.sh: the local cluster did not come up (./infra/local/cluster.sh up)" >&2; exit 1; }
    run_one "$1" ;;
esac
