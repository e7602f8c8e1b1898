#!/usr/bin/env bash
# Every output of one imapscope binary on every capture in captures/ and
# (when present) the public set, into one folder, so that a refactor can be
# checked byte for byte:
#   scripts/snapshot-outputs.sh OLD-BIN /tmp/before
#   scripts/snapshot-outputs.sh ./imapscope /tmp/after
#   diff -r /tmp/before /tmp/after
# Timing lines (the end line's speed) are removed; nothing else is.
set -u
bin=$(realpath "$1") out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
PUBLIC=${PUBLIC-$repo/../shared/captures/public}
mkdir -p "$out"
for cap in "$repo"/captures/*.pcap* "$PUBLIC"/*.pcap*; do
	[ -f "$cap" ] || continue
	name=$(basename "$cap"); stem=$out/${name%.*}
	keys=()
	[ -f "${cap%.*}.keylog" ] && keys=(-k "${cap%.*}.keylog")
	[ -f "${cap%.*}.key" ] && keys+=(--rsa-key "${cap%.*}.key")
	run() {	# run SUFFIX ARGS...: stdout, stderr and exit code
		local sfx=$1; shift
		"$bin" --color=never "${keys[@]}" "$@" "$cap" >"$stem.$sfx.out" 2>"$stem.$sfx.err"
		echo "rc=$?" >>"$stem.$sfx.err"
		sed -i -E 's/[0-9.]+ ?[kMG]?B\/s|in [0-9.]+ ?m?s//g' "$stem.$sfx.err"
	}
	run text
	run json -F json
	run summary --summary
	run summaryj --summary -F json
	run logins --logins
	run loginsj --logins -F json
	run secrets --show-secrets -F json
	rm -rf "$stem.x" "$stem.s"
	run extract -q --extract "$stem.x"
	run streams -q --streams "$stem.s"
	if [ -d "$stem.x" ]; then (cd "$stem.x" && find . -type f | sort | xargs md5sum) >"$stem.x.sums"; fi
	if [ -d "$stem.s" ]; then (cd "$stem.s" && find . -type f | sort | xargs md5sum) >"$stem.s.sums"; fi
	rm -rf "$stem.x" "$stem.s"
done
