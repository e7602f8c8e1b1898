#!/usr/bin/env bash
# Golden timelines: imapscope's text and JSON output on the project's own
# captures (golden/captures/) and, when $PUBLIC holds them, on public ones
# (golden/), each checked by hand against the stream bytes (--streams) when
# written.  A capture's key log beside it (captures/X.keylog) is used.
# After an intended change: tests/e2e/test_golden.sh --update, then read the
# diff line by line before committing it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=${REPO:-$(cd "$here/../.." && pwd)}
gold=$here/golden
fail=0
n=0
own="demo.pcap login-failures.pcap append.pcap idle.pcap loss.pcap snaplen200.pcap
     dual-stack.pcap cut-mid-session.pcap starttls13.pcap"
public="ndpi-imap.pcap arkime-imap.pcap arkime-ntlm_synthetic.pcap
       zeek-spicy-imap-5_Password_Brute_Imap.pcapng zeek-spicy-imap-imap.pcap
       suricata-verify-tcp-async-01.pcap arkime-arkime_synthetic.pcap"
diff=$(mktemp)
trap 'rm -f "$diff"' EXIT

# compare CAPTURE GOLDEN-STEM: both formats of one capture
compare() {
	local cap=$1 stem=$2 fmt got keys=()
	[ -f "${cap%.*}.keylog" ] && keys=(-k "${cap%.*}.keylog")
	for fmt in text json; do
		got=$("$IMAPSCOPE" -q --color=never -F "$fmt" "${keys[@]}" "$cap")
		n=$((n + 1))
		if [ "${UPDATE:-}" = 1 ]; then
			mkdir -p "$(dirname "$stem")"
			printf '%s\n' "$got" >"$stem.$fmt"
		elif ! diff -u "$stem.$fmt" <(printf '%s\n' "$got") >"$diff"; then
			echo "FAIL: $(basename "$cap") ($fmt) differs from ${stem#"$here"/}.$fmt:"
			head -40 "$diff"
			fail=1
		fi
	done
}

[ "${1:-}" = --update ] && UPDATE=1
for c in $own; do
	compare "$repo/captures/$c" "$gold/captures/${c%.*}"
done
PUBLIC=${PUBLIC-$repo/../shared/captures/public}
if compgen -G "$PUBLIC/*.pcap*" >/dev/null; then
	for c in $public; do
		compare "$PUBLIC/$c" "$gold/${c%.*}"
	done
else
	echo "skip: golden outputs of the public captures: no public captures (set PUBLIC=DIR or put ../shared/captures/public beside the clone)"
fi
echo "golden: $n outputs compared"
exit $fail
