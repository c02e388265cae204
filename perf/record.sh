#!/usr/bin/env bash
# Records one bench scenario with `perf record` (software cpu-clock: these VMs have no hardware
# counters) and prints the top symbols of the reactor threads.
#   perf/record.sh rtt --round-trips 100000 --runs 1 --transports unix
# Pin with PIN=0 (taskset -c 0) for stable profiles; output in perf/<scenario>.perf.data.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: perf/record.sh SCENARIO [bench options]}; shift
command -v perf >/dev/null || { echo "perf not found: apt-get install linux-perf" >&2; exit 1; }
swift build -c release --product bench >/dev/null
bench=$(swift build -c release --show-bin-path)/bench
data=perf/$scenario.perf.data
pin=()
[ -n "${PIN:-}" ] && pin=(taskset -c "$PIN")
"${pin[@]}" perf record -F 5000 -g -o "$data" -- "$bench" "$scenario" "$@" >/dev/null
perf report -i "$data" --no-children --sort comm,dso,symbol -g none 2>/dev/null \
    | grep -v '^#' | grep '%' | head -40 | cut -c1-150
