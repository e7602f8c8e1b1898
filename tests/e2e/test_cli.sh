#!/usr/bin/env bash
# The command line: exit codes and one-line errors that name the file.
# Runs on the project's own captures; the few checks that need a public
# capture run when $PUBLIC holds them.
set -u
REPO=${REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
PUBLIC=${PUBLIC-$REPO/../shared/captures/public}
caps=$REPO/captures
demo=$caps/demo.pcap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect CODE PATTERN -- ARGS...: exit status CODE, stderr matching PATTERN
expect() {
	local code=$1 pattern=$2
	shift 3
	"$IMAPSCOPE" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$?
	local ok=1
	if [ -z "$pattern" ]; then
		[ ! -s "$tmp/err" ] || ok=0
	else
		grep -qE -- "$pattern" "$tmp/err" || ok=0
	fi
	if [ "$rc" != "$code" ] || [ $ok = 0 ]; then
		echo "FAIL: imapscope $* -> exit $rc (want $code), stderr: $(head -c 300 "$tmp/err")"
		fail=1
	elif [ -n "$pattern" ] && [ "$(grep -c . "$tmp/err")" -gt 3 ]; then
		echo "FAIL: imapscope $*: too many lines on stderr"
		fail=1
	fi
}

: >"$tmp/empty.pcap"
printf 'this is not a capture file at all, just text\n' >"$tmp/text.pcap"
head -c 10 "$demo" >"$tmp/short.pcap"

expect 1 "^imapscope: $tmp/missing.pcap: " -- "$tmp/missing.pcap"
expect 1 "^imapscope: $tmp: " -- "$tmp"
expect 1 "^imapscope: $tmp/empty.pcap: " -- "$tmp/empty.pcap"
expect 1 "^imapscope: $tmp/text.pcap: " -- "$tmp/text.pcap"
expect 1 "^imapscope: $tmp/short.pcap: " -- "$tmp/short.pcap"
expect 2 "^imapscope: .*--help" -- --no-such-option "$demo"
expect 2 "^imapscope: bad port" -- -p 70000 "$demo"
expect 2 "^imapscope: bad port" -- -p 143/ssl "$demo"
expect 2 "^imapscope: unknown format" -- -F xml "$demo"
expect 2 "^imapscope: no input" --
expect 0 "" -- -q "$demo"
expect 0 "" -- -q -r "$demo" tcp port 143
expect 0 "" -- --help
expect 0 "" -- --version
grep -q '^imapscope ' "$tmp/out" || { echo "FAIL: --version prints no version"; fail=1; }

# several files in one run, one of them missing: every input is checked
# before any output, so one error line, exit 1 and nothing printed
for args in "$demo $tmp/missing.pcap" "-r $demo -r $tmp/missing.pcap" "$tmp/missing.pcap $demo"; do
	expect 1 "^imapscope: $tmp/missing.pcap: No such file" -- -F json $args
	[ ! -s "$tmp/out" ] || { echo "FAIL: $args: output before the error"; fail=1; }
done

# stdin, and the same result as the file
"$IMAPSCOPE" -q -F json - <"$demo" >"$tmp/stdin.json" 2>&1
"$IMAPSCOPE" -q -F json "$demo" >"$tmp/file.json" 2>&1
cmp -s "$tmp/stdin.json" "$tmp/file.json" || { echo "FAIL: stdin and file differ"; fail=1; }
[ -s "$tmp/file.json" ] || { echo "FAIL: no output"; fail=1; }

# a filter that matches nothing gives no sessions
"$IMAPSCOPE" -q -F json -r "$demo" tcp port 25 >"$tmp/out" 2>&1
[ ! -s "$tmp/out" ] || { echo "FAIL: BPF filter not applied"; fail=1; }
expect 2 "filter" -- -r "$demo" "tcp port port"

# a reader that goes away: quiet, exit 0, nothing on stderr (the output,
# far beyond a pipe's buffer, is still being written when head leaves)
"$IMAPSCOPE" -F json $(printf "$demo %.0s" $(seq 60)) 2>"$tmp/err" | head -1 >/dev/null
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || { echo "FAIL: | head made exit $rc"; fail=1; }
[ ! -s "$tmp/err" ] || { echo "FAIL: | head wrote to stderr: $(cat "$tmp/err")"; fail=1; }

# --session, --host and --user keep only the matching sessions
sessions() { "$IMAPSCOPE" -q -F json "$@" | python3 -c '
import json, sys
print(" ".join(str(s) for s in sorted({json.loads(l)["session"] for l in sys.stdin})))'; }
# sessions 1 (127.0.0.1, alice) and 2 ([::1], bob), then 3 (alice, and
# failed logins as mallory and bob)
two="$caps/dual-stack.pcap $caps/login-failures.pcap"
[ "$(sessions --session 3 $two)" = 3 ] || { echo "FAIL: --session"; fail=1; }
[ "$(sessions --host ::1 $two)" = 2 ] || { echo "FAIL: --host"; fail=1; }
[ "$(sessions --user bob $two)" = "2 3" ] || { echo "FAIL: --user"; fail=1; }
[ "$(sessions --user nobody $two)" = "" ] || { echo "FAIL: --user nobody"; fail=1; }
expect 2 "stdin" -- --user x -
rm -rf "$tmp/st"
"$IMAPSCOPE" -q --session 2 --streams "$tmp/st" $two >/dev/null
[ "$(wc -l <"$tmp/st/index.jsonl")" = 1 ] || { echo "FAIL: --streams ignores --session"; fail=1; }

# the brute-force flag follows --fail-threshold and --fail-window: one
# client fails as alice (0 s), mallory (0.5 s), alice (5.5 s), bob (14.5 s),
# ends a SASL exchange (31 s), fails once more (46 s) and logs in.  flags ARGS...: the rows' flags, in order
# ("." for none)
brute=$caps/login-failures.pcap
flags() { "$IMAPSCOPE" -q --logins -F json "$@" "$brute" | python3 -c '
import json, sys
print(" ".join("b" if json.loads(l).get("brute_force") else "." for l in sys.stdin))'; }
case "$(flags)" in ". . . . "*) ;; *) echo "FAIL: default threshold: $(flags)"; fail=1 ;; esac
case "$(flags --fail-threshold 3)" in ". . b b "*) ;;
	*) echo "FAIL: --fail-threshold 3: $(flags --fail-threshold 3)"; fail=1 ;; esac
case "$(flags --fail-threshold 3 --fail-window 1)" in *b*)
	echo "FAIL: --fail-window 1: $(flags --fail-threshold 3 --fail-window 1)"; fail=1 ;; esac
expect 2 "fail-threshold" -- --fail-threshold 1 "$brute"

# a damaged capture is processed as far as it goes: a file cut mid-record,
# and a corrupt record header in the middle; the output stays whole JSON
head -c 20050 "$caps/commands.pcap" >"$tmp/cut.pcap"
python3 - "$caps/commands.pcap" "$tmp/corrupt.pcap" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
off, n = 24, 0
while off < len(d):
    cl = struct.unpack("<I", d[off + 8:off + 12])[0]
    n += 1
    if n == 60:
        d[off + 8:off + 12] = struct.pack("<I", 0x7fffffff)
        break
    off += 16 + cl
open(sys.argv[2], "wb").write(d)
PY
for damaged in cut corrupt; do
	"$IMAPSCOPE" -F json -o "$tmp/$damaged.json" "$tmp/$damaged.pcap" 2>"$tmp/err"
	rc=$?
	[ $rc = 0 ] || { echo "FAIL: $damaged.pcap exit $rc"; fail=1; }
	grep -q "^imapscope: $tmp/$damaged.pcap: .*processed what came before" "$tmp/err" ||
		{ echo "FAIL: $damaged.pcap: no one-line error: $(cat "$tmp/err")"; fail=1; }
	python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev[-1]["type"] == "session_end" and ev[-1]["reason"] == "eof", ev[-1]
assert sum(e["type"] == "command" for e in ev) >= 5
' "$tmp/$damaged.json" || { echo "FAIL: $damaged.pcap: output incomplete"; fail=1; }
done

# IMAP on another port: found by its first bytes, or named with -p
python3 - "$demo" "$tmp/port10143.pcap" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
off = 24
while off + 16 <= len(d):
    cl = struct.unpack("<I", d[off + 8:off + 12])[0]
    tcp = off + 16 + 14 + (d[off + 16 + 14] & 0xf) * 4
    for o in (tcp, tcp + 2):
        if struct.unpack(">H", d[o:o + 2])[0] == 143:
            d[o:o + 2] = struct.pack(">H", 10143)
    off += 16 + cl
open(sys.argv[2], "wb").write(d)
PY
for extra in "" "-p 10143"; do
	n=$("$IMAPSCOPE" -q -F json $extra "$tmp/port10143.pcap" | grep -c '"type":"command"')
	[ "$n" = 4 ] || { echo "FAIL: port 10143 ${extra:-by heuristic}: $n commands, want 4"; fail=1; }
done
"$IMAPSCOPE" -q -F json "$tmp/port10143.pcap" | grep -q '"server":"127.0.0.1:10143"' ||
	{ echo "FAIL: port 10143: roles wrong"; fail=1; }

# an unsupported link type: one line naming the file, exit 1
python3 - "$demo" "$tmp/linktype.pcap" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
struct.pack_into("<I", d, 20, 147)      # LINKTYPE_USER0
open(sys.argv[2], "wb").write(d)
PY
expect 1 "^imapscope: $tmp/linktype.pcap: unsupported link type 147$" -- "$tmp/linktype.pcap"

# key material: a malformed key log line is skipped with file:line and the
# rest of the file used; a key file that is not a key, or not RSA, is bad
# usage (exit 2); a key for another server decrypts nothing and says so
rsa="$REPO/captures/implicit-rsa.pcap"
keys="$REPO/tests/e2e/keys"
{ echo "# a comment, then a blank line"; echo
  echo "CLIENT_RANDOM zz 11"
  cat "$REPO/captures/implicit-rsa.keylog"; } >"$tmp/mixed.keylog"
expect 0 "^imapscope: $tmp/mixed.keylog:3: key log line skipped" -- -F json -k "$tmp/mixed.keylog" "$rsa"
grep -q '"decrypted":true' "$tmp/out" ||
	{ echo "FAIL: the good lines after a malformed one were not used"; fail=1; }
printf 'not a key at all\n' >"$tmp/notakey.pem"
expect 2 "^imapscope: $tmp/notakey.pem: not a key" -- --rsa-key "$tmp/notakey.pem" "$rsa"
expect 2 "^imapscope: $keys/ec.key: not an RSA key$" -- --rsa-key "$keys/ec.key" "$rsa"
expect 2 "^imapscope: $tmp/nokey.pem: No such file" -- --rsa-key "$tmp/nokey.pem" "$rsa"
expect 2 "^imapscope: $tmp/nokey.log: No such file" -- -k "$tmp/nokey.log" "$rsa"
expect 0 "^imapscope: session 1: TLS: $keys/other-server.key is not this server's key" -- \
	-F json --rsa-key "$keys/other-server.key" "$rsa"
grep -q '"reason":"the RSA key is not this server' "$tmp/out" ||
	{ echo "FAIL: a key for another server: no reason in the tls event"; fail=1; }
grep -q '"type":"command"' "$tmp/out" &&
	{ echo "FAIL: a key for another server decrypted commands"; fail=1; }

# --- session selection (issue 14, item 6) ---------------------------------
[ "$(sessions --session 2 --session 3 $two)" = "2 3" ] ||
	{ echo "FAIL: --session 2 --session 3: $(sessions --session 2 --session 3 $two)"; fail=1; }
[ "$(sessions --session 3,1 $two)" = "1 3" ] || { echo "FAIL: --session 3,1"; fail=1; }
for bad in 0 x 1,x 1,,2 -1 ""; do
	expect 2 "^imapscope: bad --session '$bad'" -- --session "$bad" "$demo"
	[ ! -s "$tmp/out" ] || { echo "FAIL: --session '$bad' printed output"; fail=1; }
done
# --host takes what the tool prints: [::1], [::1]:143, ::1, ip:port, ip
for h in "[::1]=2" "[::1]:143=2" "::1=2" "[::1]:144=" "127.0.0.1:33354=1" "127.0.0.1=1 3" \
	 "127.0.0.1:143=1 3" "127.0.0.2="; do
	got=$(sessions --host "${h%%=*}" $two 2>/dev/null)
	[ "$got" = "${h#*=}" ] || { echo "FAIL: --host ${h%%=*}: sessions '$got', want '${h#*=}'"; fail=1; }
done
expect 2 "^imapscope: bad --host 'mail.example.com'" -- --host mail.example.com "$demo"
# a filter that keeps nothing: no output, exit 0, one notice saying so
for f in "--session 9" "--host 192.0.2.1" "--user nobody"; do
	expect 0 "^imapscope: the filter matched no session: $f$" -- $f "$demo"
	[ ! -s "$tmp/out" ] || { echo "FAIL: $f printed output"; fail=1; }
	[ "$(wc -l <"$tmp/err")" = 1 ] || { echo "FAIL: $f: $(cat "$tmp/err")"; fail=1; }
done
expect 0 "" -- -q --session 9 "$demo"
# notices of sessions filtered out are not printed (snaplen200.pcap, here
# session 3, has gap notices; its file-wide snap-length notice stays)
for f in "--session 2" "--host ::1" "--host [::1]:143" "--user bob"; do
	"$IMAPSCOPE" $f "$caps/dual-stack.pcap" "$caps/snaplen200.pcap" >/dev/null 2>"$tmp/err"
	grep -q "session 3" "$tmp/err" && { echo "FAIL: $f: notices of session 3: $(head -2 "$tmp/err")"; fail=1; }
	grep -q "snap length" "$tmp/err" || { echo "FAIL: $f: the file's notice is gone"; fail=1; }
done

# --- smaller things (issue 14, item 10) ------------------------------------
# words after the files: a filter if they compile as one (tcpdump's habit),
# else one line and exit 2 before anything is printed
"$IMAPSCOPE" -q -F json -r "$demo" port 143 >"$tmp/want"
expect 0 "" -- -q -F json "$demo" port 143
cmp -s "$tmp/out" "$tmp/want" && [ -s "$tmp/out" ] ||
	{ echo "FAIL: 'FILE port 143' differs from '-r FILE port 143'"; fail=1; }
expect 0 "" -- -q -F json "$demo" tcp port 25
[ ! -s "$tmp/out" ] || { echo "FAIL: 'FILE tcp port 25': the filter was not applied"; fail=1; }
expect 2 "^imapscope: 'port' is not a file, and 'port 14x3' is not a filter" -- "$demo" port 14x3
[ ! -s "$tmp/out" ] || { echo "FAIL: 'FILE port 14x3' printed output"; fail=1; }
[ "$(wc -l <"$tmp/err")" = 1 ] || { echo "FAIL: 'FILE port 14x3': $(cat "$tmp/err")"; fail=1; }
# sizes and times take suffixes: 4K is 4096 (the same refusals under a
# budget that small), 1m is 60 s
"$IMAPSCOPE" -F json --max-memory 4096 "$demo" >"$tmp/want" 2>"$tmp/want.err"
grep -q "refused by --max-memory" "$tmp/want.err" || { echo "FAIL: 4096 bytes refused nothing"; fail=1; }
for v in 4K 4k 4KiB 4KB; do
	"$IMAPSCOPE" -F json --max-memory $v "$demo" >"$tmp/out" 2>"$tmp/err"
	cmp -s "$tmp/err" "$tmp/want.err" && cmp -s "$tmp/out" "$tmp/want" ||
		{ echo "FAIL: --max-memory $v is not 4096 bytes"; fail=1; }
done
expect 0 "" -- -q --max-memory 1G --max-ooo-bytes 64M --max-literal-memory 64K "$demo"
[ "$(flags --fail-threshold 3 --fail-window 1m)" = "$(flags --fail-threshold 3 --fail-window 60)" ] &&
	[ "$(flags --fail-threshold 3 --fail-window 1m)" != "$(flags --fail-threshold 3 --fail-window 1)" ] ||
	{ echo "FAIL: --fail-window 1m is not 60 s"; fail=1; }
expect 0 "" -- -q --logins --fail-window 2h "$brute"
for bad in "--max-memory 64X" "--max-memory 1.5G" "--max-memory 99999999999T" \
	   "--max-ooo-bytes -1M" "--fail-window 1h5" "--fail-window 5y" "--duration 1x"; do
	expect 2 "^imapscope: bad ${bad%% *} '${bad#* }'" -- $bad "$demo"
done
# live capture: a missing interface is named once and said to be missing;
# without the privilege, one line naming the interface once
if [ "$(id -u)" = 0 ]; then
	expect 1 "^imapscope: nosuchif0: no such interface$" -- -i nosuchif0 --duration 2h
	[ "$(grep -o nosuchif0 "$tmp/err" | wc -l)" = 1 ] ||
		{ echo "FAIL: -i nosuchif0: $(cat "$tmp/err")"; fail=1; }
	if command -v setpriv >/dev/null; then
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
			"$IMAPSCOPE" -i lo </dev/null >/dev/null 2>"$tmp/err"
		grep -q "^imapscope: lo: permission denied" "$tmp/err" &&
			[ "$(grep -o "\blo\b" "$tmp/err" | wc -l)" = 1 ] ||
			{ echo "FAIL: -i lo without privilege: $(cat "$tmp/err")"; fail=1; }
	fi
else
	echo "skip: live-capture errors: not root"
fi
# the text timeline says its times are UTC; a BYE that answers LOGOUT is
# not coloured as an error; latencies are all "(N.NNN ms)"
"$IMAPSCOPE" "$demo" >"$tmp/out"
head -1 "$tmp/out" | grep -qx -- "--- 2026-11-22 (UTC) ---" ||
	{ echo "FAIL: the date line does not say UTC: $(head -1 "$tmp/out")"; fail=1; }
"$IMAPSCOPE" --color=always "$demo" | grep "BYE" | grep -qF $'\x1b[1;31m' &&
	{ echo "FAIL: the BYE answering LOGOUT is coloured as an error"; fail=1; }
"$IMAPSCOPE" "$caps/login-failures.pcap" "$caps/idle.pcap" "$demo" >"$tmp/out"
n=$(grep -cE '   \([0-9]+\.[0-9]{3} ms\)(   \(\+ after [0-9]+\.[0-9]{3} ms(, [0-9]+\.[0-9]{3} ms)*\))?$' "$tmp/out")
m=$(grep -cE '   \([0-9.]+ m?s\)(   \(\+ after .*\))?$' "$tmp/out")
[ "$n" -ge 20 ] && [ "$n" = "$m" ] ||
	{ echo "FAIL: latencies in $((m - n)) of $m lines are not (N.NNN ms)"; fail=1; }

# --- checks that need the public captures --------------------------------
if compgen -G "$PUBLIC/*.pcap*" >/dev/null; then
	# flows that are not IMAP (HTTP, SMTP, ...) are not sessions
	n=$("$IMAPSCOPE" -q -F json "$PUBLIC/arkime-arkime_synthetic.pcap" |
		grep -c '"type":"session_start"')
	[ "$n" = 2 ] || { echo "FAIL: arkime_synthetic: $n sessions, want the 2 IMAP ones"; fail=1; }
else
	echo "skip: non-IMAP flows in a public capture: no public captures (set PUBLIC=DIR or put ../shared/captures/public beside the clone)"
fi

[ $fail = 0 ] && echo "cli: all checks passed"
exit $fail
