#!/bin/sh
# Checks what `bench report` wrote: check-bench-report.sh DOCS IMAGES SCENARIO...
# For each scenario, the document has its section (the "Measured" line naming the scenario's
# command and a link to its chart) and the chart is an SVG that parses as XML; and no
# `<!-- bench:… -->` marker is left in the document. Prints one line per scenario checked.
set -eu
docs=$1
images=$2
shift 2
[ -s "$docs" ] || { echo "check-bench-report: $docs is missing or empty" >&2; exit 1; }
if grep -q '^<!-- bench:' "$docs"; then
    echo "check-bench-report: $docs still has a <!-- bench:… --> marker" >&2
    exit 1
fi
for scenario in "$@"; do
    svg="$images/bench-$scenario.svg"
    [ -s "$svg" ] || { echo "check-bench-report: no chart $svg" >&2; exit 1; }
    python3 -c 'import sys, xml.etree.ElementTree as tree
root = tree.parse(sys.argv[1]).getroot()
if root.tag != "{http://www.w3.org/2000/svg}svg" or not root.get("width") or not root.get("height"):
    sys.exit(sys.argv[1] + ": not an SVG with a width and a height")' "$svg"
    grep -q "^_Measured .*\`bench $scenario" "$docs" \
        || { echo "check-bench-report: $docs has no section measured by bench $scenario" >&2; exit 1; }
    grep -q "(images/bench-$scenario.svg)" "$docs" \
        || { echo "check-bench-report: $docs does not show images/bench-$scenario.svg" >&2; exit 1; }
    echo "check-bench-report: $scenario: section and chart ok"
done
