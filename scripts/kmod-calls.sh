#!/usr/bin/env bash
# Which files of kp_core call each other (issue 22): from the built objects, the symbols each
# object defines (nm: T, D, B, R, ...) against those it leaves undefined (U), a file "uses"
# another when it needs one of its symbols (a call or a reference to its data). Prints every
# use, then every pair of files that use each other, and counts them. kp_core's rule: no such
# pair except with the core hub (core.o); the exit status is 1 when there is another one.
#
# Usage: scripts/kmod-calls.sh [DIR]   (DIR: the built kmod/core, default kmod/core; build it
#                                       first with `make -C kmod core`)
#        KP_CALLS_QUIET=1 ...           only the pairs and the counts
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$repo/kmod/core}
hub=core

objs=()
for o in "$dir"/*.o; do
	case $(basename "$o") in
	kp_core.o | *.mod.o) continue ;;
	esac
	objs+=("$o")
done
if [ ${#objs[@]} -eq 0 ]; then
	echo "kmod-calls: no objects in $dir (build kp_core first)" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in "${objs[@]}"; do
	f=$(basename "$o" .o)
	nm "$o" | awk -v f="$f" '$1 != "U" && NF == 3 && $2 ~ /^[A-TV-Z]$/ { print $3, f }' >>"$tmp/defs"
	nm "$o" | awk -v f="$f" '$1 == "U" { print $2, f }' >>"$tmp/undefs"
done
# "user used" per symbol, one line per pair of files.
sort -u "$tmp/defs" >"$tmp/defs.s"
sort -u "$tmp/undefs" >"$tmp/undefs.s"
join "$tmp/undefs.s" "$tmp/defs.s" | awk '$2 != $3 { print $2, $3 }' | sort -u >"$tmp/uses"

if [ -z "${KP_CALLS_QUIET:-}" ]; then
	echo "uses (file -> file it needs):"
	sed 's/ / -> /; s/^/  /' "$tmp/uses"
fi
# Mutual pairs: a -> b and b -> a, each pair once.
awk '{ use[$1 " " $2] = 1 } END { for (k in use) { split(k, p, " ");
	if (p[1] < p[2] && use[p[2] " " p[1]]) print p[1], p[2] } }' "$tmp/uses" | sort >"$tmp/pairs"
echo "mutual pairs:"
sed 's/ / <-> /; s/^/  /' "$tmp/pairs"
total=$(wc -l <"$tmp/pairs")
others=$(awk -v h="$hub" '$1 != h && $2 != h' "$tmp/pairs" | wc -l)
echo "files: ${#objs[@]}, mutual pairs: $total, without $hub: $others"
[ "$others" -eq 0 ]
