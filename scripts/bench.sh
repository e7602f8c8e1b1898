#!/usr/bin/env bash
# scripts/bench.sh — time imapscope against the libpcap floor and tshark.
#
#   scripts/bench.sh [DIR]
#
# Builds imapscope and bench/ (make bench), writes benchmark captures into
# DIR (default /tmp/imapscope-bench; they are reused while the generator is
# unchanged) with bench/gen_capture: plaintext IMAP and implicit TLS 1.3
# (AES-128-GCM, with a key log) at each size in SIZES.  Then, in the same
# run and on a warm page cache, it times on each file:
#   imapscope -q -F json -o /dev/null FILE        (-k KEYLOG for TLS)
#   build/bench/pcap_loop FILE                    (bare pcap_next_ex loop)
#   tshark -r FILE -Y imap -T fields -e imap.request.command  (TSHARK_SIZES only)
# Each is run RUNS times; the best wall time is kept; peak RSS comes from
# /usr/bin/time -v.  Last, the memory cost of a session: peak RSS with 1
# and with MEM_SESSIONS sessions open at once.
#
# It prints Markdown tables (docs/BENCHMARK.md quotes them).  A benchmark,
# not a test: it never fails on a timing.
#
# Environment: SIZES ("100 500 1000", MB), RUNS (3), TSHARK_SIZES ("100";
# tshark needs ~70 s and ~2 GB for 1 GB), MEM_SESSIONS (1000), BUILD (build).
set -euo pipefail

DIR=${1:-/tmp/imapscope-bench}
SIZES=${SIZES:-"100 500 1000"}
RUNS=${RUNS:-3}
TSHARK_SIZES=${TSHARK_SIZES:-100}
MEM_SESSIONS=${MEM_SESSIONS:-1000}
BUILD=${BUILD:-build}

cd "$(dirname "$0")/.."
if [ "$BUILD" = build ]; then IMAPSCOPE=$PWD/imapscope; else IMAPSCOPE=$BUILD/imapscope; fi
make -s BUILD="$BUILD" bench >&2
GEN=$BUILD/bench/gen_capture
LOOP=$BUILD/bench/pcap_loop
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
HAVE_TSHARK=1
command -v tshark >/dev/null || HAVE_TSHARK=0
mkdir -p "$DIR"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# gen NAME ARGS...: DIR/NAME.pcap, rebuilt when the generator is newer
gen() {
	local name=$1; shift
	if [ ! -s "$DIR/$name.pcap" ] || [ "$GEN" -nt "$DIR/$name.pcap" ]; then
		"$GEN" -o "$DIR/$name.pcap" "$@" >&2
	fi
}

for s in $SIZES; do
	gen "plain-${s}M" -s "$s"
	gen "tls-${s}M" -s "$s" --tls "$DIR/tls-${s}M.keylog"
done

# run CMD...: sets SECS (best of RUNS, wall), CPU (best user+sys) and
# RSS_KB (largest peak)
run() {
	local i t0 t1 best= rss=0 r c cpu=
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		"$TIME" -v -o "$DIR/time.out" "$@" >/dev/null 2>"$DIR/stderr.out" ||
			{ echo "bench: failed: $*" >&2; cat "$DIR/stderr.out" >&2; }
		t1=$(date +%s%N)
		t1=$(( t1 - t0 ))
		if [ -z "$best" ] || [ "$t1" -lt "$best" ]; then best=$t1; fi
		r=$(awk '/Maximum resident set size/ { print $NF }' "$DIR/time.out")
		[ "$r" -gt "$rss" ] && rss=$r
		c=$(awk '/User time|System time/ { s += $NF } END { printf "%.2f", s }' "$DIR/time.out")
		if [ -z "$cpu" ] || awk -v a="$c" -v b="$cpu" 'BEGIN { exit !(a < b) }'; then cpu=$c; fi
	done
	SECS=$(awk -v ns="$best" 'BEGIN { printf "%.3f", ns / 1e9 }')
	CPU=$cpu
	RSS_KB=$rss
}

declare -A LOOP_SECS TSHARK_MBS
ROWS=()
# row TOOL KIND SIZE BYTES PACKETS SECS CPU RSS_KB
row() {
	ROWS+=("$*")
}

for s in $SIZES; do
	for kind in plain tls; do
		f=$DIR/$kind-${s}M.pcap
		bytes=$(stat -c %s "$f")
		cat "$f" >/dev/null		# warm the page cache
		pkts=$("$LOOP" "$f" | awk '{ print $1 }')
		run "$LOOP" "$f"
		LOOP_SECS[$kind-$s]=$SECS
		row "pcap_next_ex loop" "$kind" "$s" "$bytes" "$pkts" "$SECS" "$CPU" "$RSS_KB"
		if [ "$kind" = tls ]; then
			run "$IMAPSCOPE" -q -F json -o /dev/null -k "$DIR/tls-${s}M.keylog" "$f"
			row "imapscope -k (TLS 1.3)" "$kind" "$s" "$bytes" "$pkts" "$SECS" "$CPU" "$RSS_KB"
		else
			run "$IMAPSCOPE" -q -F json -o /dev/null "$f"
			row "imapscope" "$kind" "$s" "$bytes" "$pkts" "$SECS" "$CPU" "$RSS_KB"
		fi
		if [ $HAVE_TSHARK = 1 ] && [[ " $TSHARK_SIZES " == *" $s "* ]]; then
			targs=(-r "$f" -Y imap -T fields -e imap.request.command)
			[ "$kind" = tls ] && targs+=(-o "tls.keylog_file:$DIR/tls-${s}M.keylog")
			save=$RUNS; RUNS=1
			run tshark "${targs[@]}"
			RUNS=$save
			TSHARK_MBS[$kind]=$(awk -v b="$bytes" -v t="$SECS" 'BEGIN { print b / 1e6 / t }')
			row "tshark -Y imap" "$kind" "$s" "$bytes" "$pkts" "$SECS" "$CPU" "$RSS_KB"
		fi
	done
done

echo
echo "### Throughput ($(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); best of $RUNS runs, warm cache)"
echo
echo "Load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| tool | traffic | file | seconds | CPU s | MB/s | packets/s | peak RSS | × read loop | × tshark's speed |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in "${ROWS[@]}"; do
	read -r -a a <<<"$r"
	# the tool name has spaces: the last seven fields are fixed
	n=${#a[@]}
	tool="${a[*]:0:n-7}"; kind=${a[n-7]}; s=${a[n-6]}; bytes=${a[n-5]}; pkts=${a[n-4]}
	secs=${a[n-3]}; cpu=${a[n-2]}; rss=${a[n-1]}
	awk -v tool="$tool" -v kind="$kind" -v s="$s" -v b="$bytes" -v p="$pkts" -v t="$secs" -v cpu="$cpu" \
	    -v rss="$rss" -v loop="${LOOP_SECS[$kind-$s]}" -v ts="${TSHARK_MBS[$kind]:-}" \
	    -v tsz="${TSHARK_SIZES%% *}" '
	BEGIN {
		if (t <= 0) t = 0.001
		mbs = b / 1e6 / t
		vs = ts == "" ? "-" : (tool ~ /^tshark/ ? "1" : sprintf("%.0f", mbs / ts))
		if (ts != "" && tool !~ /^tshark/ && s != tsz) vs = vs " (vs " tsz " MB)"
		printf "| %s | %s | %.0f MB | %.3f | %.2f | %.0f | %.0f | %.1f MB | %.1f | %s |\n",
			tool, kind, b / 1e6, t, cpu, mbs, p / t, rss / 1024, t / loop, vs
	}'
done
if [ $HAVE_TSHARK = 1 ]; then
	echo
	echo "tshark ran on the ${TSHARK_SIZES} MB files only: its time and memory grow with the file"
	echo "(issue 8 measured 51 s and 1.75 GB on 750 MB); on larger files the last column"
	echo "compares with its throughput on the ${TSHARK_SIZES%% *} MB file."
fi

# Memory per session: chatty sessions (300 small commands each), small-
# body sessions (a FETCH literal in flight) and chatty TLS 1.3 sessions, all
# open at once.
echo
echo "### Memory per concurrent session (peak RSS of imapscope -q -F json -o /dev/null)"
echo
echo "| kind | sessions open at once | file | peak RSS | per extra session |"
echo "| --- | ---: | ---: | ---: | ---: |"
for kind in chatty small tls-chatty; do
	n=$MEM_SESSIONS only=${kind#tls-} tls=() k1=() kn=()
	[ $only = small ] && n=$(( MEM_SESSIONS / 4 ))
	if [ "$kind" != "$only" ]; then
		tls=(--tls); k1=(-k "$DIR/mem-$kind-1.keylog"); kn=(-k "$DIR/mem-$kind-$n.keylog")
	fi
	gen "mem-$kind-1" --only $only --sessions 1 -c 1 ${tls[@]+"${tls[@]}" "$DIR/mem-$kind-1.keylog"}
	gen "mem-$kind-$n" --only $only --sessions "$n" -c "$n" ${tls[@]+"${tls[@]}" "$DIR/mem-$kind-$n.keylog"}
	only=$kind
	RUNS=1
	run "$IMAPSCOPE" -q -F json -o /dev/null ${k1[@]+"${k1[@]}"} "$DIR/mem-$kind-1.pcap"; base=$RSS_KB
	run "$IMAPSCOPE" -q -F json -o /dev/null ${kn[@]+"${kn[@]}"} "$DIR/mem-$kind-$n.pcap"; many=$RSS_KB
	printf "| %s | 1 | %.0f MB | %.1f MB | |\n" $only \
		"$(awk -v b="$(stat -c %s "$DIR/mem-$kind-1.pcap")" 'BEGIN { print b / 1e6 }')" \
		"$(awk -v r="$base" 'BEGIN { print r / 1024 }')"
	printf "| %s | %d | %.0f MB | %.1f MB | %.1f KB |\n" $only "$n" \
		"$(awk -v b="$(stat -c %s "$DIR/mem-$kind-$n.pcap")" 'BEGIN { print b / 1e6 }')" \
		"$(awk -v r="$many" 'BEGIN { print r / 1024 }')" \
		"$(awk -v a="$base" -v b="$many" -v n="$n" 'BEGIN { print (b - a) / (n - 1) }')"
done
