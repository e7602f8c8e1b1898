#!/usr/bin/env bash
# Live capture on loopback: -i lo sees a connection to port 143 as it
# happens, streams JSON line by line, and ends cleanly on SIGINT.  Traffic
# goes to 127.0.0.1 only.  Needs root (or CAP_NET_RAW); skipped otherwise.
set -u
if [ "$(id -u)" != 0 ]; then
	echo "live: skipped (not root: live capture needs root or CAP_NET_RAW)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

knock() {	# a TCP connection to 127.0.0.1:143; refused is fine, it is a session
	python3 -c '
import socket
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("127.0.0.1", 143)); s.sendall(b"a1 LOGOUT\r\n"); s.recv(100)
except OSError:
    pass'
}

"$IMAPSCOPE" -i lo -F json --duration 4 >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 1
if ! kill -0 $pid 2>/dev/null; then
	if grep -qiE "permission|CAP_NET_RAW|privilege" "$tmp/err"; then
		echo "live: skipped ($(cat "$tmp/err"))"
		exit 0
	fi
	echo "FAIL: live capture did not start: $(cat "$tmp/err")"
	exit 1
fi
knock
sleep 1
# streamed: the session is in the output before the run ends
grep -q '"type":"session_start".*"server":"127.0.0.1:143"' "$tmp/out" ||
	{ echo "FAIL: the session did not stream out while capturing"; fail=1; }
wait $pid
rc=$?
[ $rc = 0 ] || { echo "FAIL: --duration run exited $rc"; fail=1; }
grep -q '"type":"session_end"' "$tmp/out" || { echo "FAIL: no session_end"; fail=1; }

# SIGINT: flush, end open sessions with eof, print the summary, exit 0
"$IMAPSCOPE" -i lo --summary -F json >"$tmp/out2" 2>"$tmp/err2" &
pid=$!
sleep 1
knock
sleep 0.5
kill -INT $pid
wait $pid
rc=$?
[ $rc = 0 ] || { echo "FAIL: SIGINT exit $rc: $(cat "$tmp/err2")"; fail=1; }
tail -1 "$tmp/out2" | grep -q '"type":"capture_summary"' ||
	{ echo "FAIL: no capture_summary after SIGINT"; fail=1; }
# -w saves what was seen, readable again; -c stops after COUNT packets
"$IMAPSCOPE" -q -i lo -c 2 -w "$tmp/saved.pcap" -F json >"$tmp/out3" 2>"$tmp/err3" &
pid=$!
sleep 1
knock
for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
if kill -0 $pid 2>/dev/null; then
	echo "FAIL: -c 2 did not stop after 2 packets"
	kill -INT $pid
	fail=1
fi
wait $pid
"$IMAPSCOPE" -q -F json "$tmp/saved.pcap" >"$tmp/replay" 2>&1 ||
	{ echo "FAIL: the -w file cannot be read back: $(cat "$tmp/replay")"; fail=1; }
grep -q '"server":"127.0.0.1:143"' "$tmp/replay" ||
	{ echo "FAIL: the -w file lacks the session"; fail=1; }
# the saved packets hold the passwords: 0600, and never through a link
[ "$(stat -c %a "$tmp/saved.pcap")" = 600 ] ||
	{ echo "FAIL: the -w file is $(stat -c %a "$tmp/saved.pcap"), not 600"; fail=1; }
echo keep >"$tmp/target"
ln -s "$tmp/target" "$tmp/link.pcap"
"$IMAPSCOPE" -q -i lo -c 1 --duration 2 -w "$tmp/link.pcap" >/dev/null 2>"$tmp/err4"
rc=$?
[ "$rc" = 2 ] && grep -q "link.pcap" "$tmp/err4" && [ "$(cat "$tmp/target")" = keep ] ||
	{ echo "FAIL: -w through a planted link: exit $rc, $(cat "$tmp/err4"), target $(head -c 40 "$tmp/target")"; fail=1; }

[ $fail = 0 ] && echo "live: all checks passed"
exit $fail
