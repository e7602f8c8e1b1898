#!/usr/bin/env bash
# Show where imapscope and tshark disagree on the IMAP requests and tagged
# responses of the same capture, so that each disagreement gets examined.
#
#   scripts/compare-tshark.sh [CAPTURE ...]     (default: captures/*.pcap*)
#
# Compares, per TCP connection (client ip:port), the sequence of
#   C TAG COMMAND      (tshark imap.request.tag / imap.request.command)
#   S TAG STATUS       (tshark imap.response.tag / imap.response.status)
# with imapscope's command and response events.  tshark runs with the key
# log from the capture's truth file (tls.keylog_file) and our -p ports.
# Lines only tshark has are prefixed "tshark>", only imapscope "imapscope>".
# Env: IMAPSCOPE (default ./imapscope).  Exit 0 if all agree, 1 otherwise.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
IMAPSCOPE=${IMAPSCOPE:-$REPO/imapscope}
command -v tshark >/dev/null || { echo "compare-tshark: tshark is not installed (apt-get install tshark)" >&2; exit 2; }
[ -x "$IMAPSCOPE" ] || { echo "compare-tshark: no imapscope binary at $IMAPSCOPE" >&2; exit 2; }
# tshark >= 4.2 names the tags imap.request.tag / imap.response.tag; older
# ones (Debian 12: 4.0) imap.request_tag / imap.response_tag.
if tshark -G fields 2>/dev/null | cut -f3 | grep -qx imap.request.tag; then
	RQTAG=imap.request.tag RSTAG=imap.response.tag
else
	RQTAG=imap.request_tag RSTAG=imap.response_tag
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ $# -eq 0 ]; then set -- "$REPO"/captures/*.pcap "$REPO"/captures/*.pcapng; fi
differ=0
for cap in "$@"; do
	[ -e "$cap" ] || continue
	base=${cap%.*}
	truth=$base.truth.json
	topts=() iopts=()
	if [ -f "$truth" ]; then
		mapfile -t extra < <(python3 - "$truth" <<-'PY'
		import json, os, sys
		t = json.load(open(sys.argv[1])); d = os.path.dirname(sys.argv[1])
		if t.get("keylog"): print("K" + os.path.join(d, t["keylog"]))
		if t.get("rsa_key"): print("R" + os.path.join(d, t["rsa_key"]))
		for p in t.get("extra_ports") or []: print("P%s" % p)
		PY
		)
		for e in "${extra[@]}"; do
			case $e in
			K*) topts+=(-o "tls.keylog_file:${e#K}"); iopts+=(-k "${e#K}") ;;
			R*) iopts+=(--rsa-key "${e#R}") ;;
			P*) topts+=(-d "tcp.port==${e#P},imap"); iopts+=(-p "${e#P}") ;;
			esac
		done
	fi
	# tshark: one line per request/response field value, in frame order
	tshark -n -r "$cap" "${topts[@]}" -Y imap -T fields -E separator='|' -E occurrence=a -E aggregator=';' \
		-e frame.number -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
		-e "$RQTAG" -e imap.request.command -e "$RSTAG" -e imap.response.status -e imap.request.command.uid \
		2>"$tmp/tshark.err" | python3 -c '
import sys
for line in sys.stdin:
    f = line.rstrip("\n").split("|")
    if len(f) < 11: continue
    fr, s4, s6, sp, d4, d6, dp, rqt, rqc, rst, rss = f[:11]
    uid = f[11] if len(f) > 11 else ""
    if rqc.upper() == "UID" and uid: rqc = "UID " + uid
    src = s4 or "[%s]" % s6; dst = d4 or "[%s]" % d6
    if rqt:
        for t, c in zip(rqt.split(";"), rqc.split(";")):
            print("%s:%s\tC %s %s\t#%s" % (src, sp, t, c.upper(), fr))
    if rst:
        for t, s in zip(rst.split(";"), rss.split(";")):
            if s and t not in ("*", "+"):
                print("%s:%s\tS %s %s\t#%s" % (dst, dp, t, s.upper(), fr))
' >"$tmp/tshark"
	if ! "$IMAPSCOPE" -F json -q "${iopts[@]}" "$cap" >"$tmp/json" 2>"$tmp/err"; then
		echo "== $(basename "$cap"): imapscope failed: $(tail -1 "$tmp/err")"
		differ=1
		continue
	fi
	python3 -c '
import json, sys
clients = {}
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    s = e.get("session")
    if e.get("type") == "session_start": clients[s] = e.get("client")
    elif e.get("type") == "command":
        print("%s\tC %s %s" % (clients.get(s), e.get("tag"), str(e.get("command")).upper()))
    elif e.get("type") == "response":
        print("%s\tS %s %s" % (clients.get(s), e.get("tag"), e.get("status")))
' "$tmp/json" >"$tmp/imapscope"
	# compare per connection, in order (tshark frame numbers kept for reference)
	cut -f1,2 "$tmp/tshark" >"$tmp/t2"
	if diff -q "$tmp/t2" "$tmp/imapscope" >/dev/null; then
		echo "== $(basename "$cap"): agree ($(wc -l <"$tmp/t2") requests/responses)"
	else
		differ=1
		echo "== $(basename "$cap"): tshark $(wc -l <"$tmp/t2"), imapscope $(wc -l <"$tmp/imapscope") lines; disagreements:"
		diff "$tmp/t2" "$tmp/imapscope" | sed -n 's/^< /  tshark>    /p; s/^> /  imapscope> /p' | head -40 || true
	fi
done
exit $differ
