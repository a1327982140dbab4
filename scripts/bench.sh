#!/usr/bin/env bash
# make bench: run every component's benchmark (scripts/bench-*.sh); each one prints
# its figures and the command that reproduces them (recorded in docs/benchmarks.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
status=0
for b in "$here"/bench-*.sh; do
	[ -e "$b" ] || continue
	echo "== $(basename "$b")"
	bash "$b" || { echo "bench: $(basename "$b") failed" >&2; status=1; }
done
exit $status
