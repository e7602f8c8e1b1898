#!/usr/bin/env bash
# Golden timelines: imapscope's text and JSON output on public captures,
# each checked by hand against the stream bytes (--streams) when written.
# After an intended change: tests/e2e/test_golden.sh --update, then read the
# diff line by line before committing it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
gold=$here/golden
fail=0
n=0
cases="ndpi-imap.pcap arkime-imap.pcap arkime-ntlm_synthetic.pcap
       zeek-spicy-imap-5_Password_Brute_Imap.pcapng zeek-spicy-imap-imap.pcap
       suricata-verify-tcp-async-01.pcap arkime-arkime_synthetic.pcap"
for c in $cases; do
	for fmt in text json; do
		out=$gold/${c%.*}.$fmt
		got=$("$IMAPSCOPE" -q --color=never -F "$fmt" "$PUBLIC/$c")
		n=$((n + 1))
		if [ "${1:-}" = --update ]; then
			printf '%s\n' "$got" >"$out"
		elif ! diff -u "$out" <(printf '%s\n' "$got") >/tmp/golden.diff.$$; then
			echo "FAIL: $c ($fmt) differs from $(basename "$out"):"
			head -40 /tmp/golden.diff.$$
			fail=1
		fi
	done
done
rm -f /tmp/golden.diff.$$
echo "golden: $n outputs compared"
exit $fail
