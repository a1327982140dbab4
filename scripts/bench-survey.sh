#!/usr/bin/env bash
# Real-fix survey (issue 23): every single-file .c change of one Debian stable update,
# built with kp-build --kernel for Debian's cloud kernel of the older version; those that
# build are loaded and unloaded in one boot of Debian's own vmlinuz (QEMU TCG).
#
# Usage: scripts/bench-survey.sh [OLD NEW] [--src TREE] [--only FILE]... [--build-budget S]
#   --only FILE or DIR/: a subset (without it, files the config does not compile, by
#   Kbuild's dry run in kp-build's prepared tree, are counted and skipped).
#   OLD NEW: linux-source-<series> versions; default 6.1.187-1 6.1.190-1 when the archive
#   has both (apt-cache madison), else its two newest. Needs make all; fetches Debian's
#   packages once (kp-build's cache and the VM runner's). Results: build/survey/results.json.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
for t in kp-build kpctl; do
	[ -x "$repo/build/bin/$t" ] || { echo "bench-survey: build/bin/$t not built (make all)" >&2; exit 1; }
done
t0=$(date +%s)
python3 "$repo/scripts/survey-debian.py" "$@"
echo "survey run time: $(( $(date +%s) - t0 )) s"
echo "reproduce: scripts/bench-survey.sh $*"
