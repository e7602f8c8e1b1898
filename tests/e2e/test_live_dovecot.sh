#!/usr/bin/env bash
# Live capture of a real server and a real client: Dovecot on 127.0.0.1:143
# inside a private network namespace this test creates, python3 imaplib as
# the client, and `imapscope -i lo -F json` capturing on that namespace's
# loopback.  No traffic leaves the namespace's lo.
#
# Checks: session_start for each connection (server 127.0.0.1:143); LOGIN,
# SELECT, FETCH 1 BODY[] and LOGOUT each answered OK under the same tag;
# login events ok and fail for alice; secrets redacted; events streamed
# before the stop; session_end "fin" for closed sessions and "eof" for the one
# still open at SIGINT; exit 0 on SIGINT; and a --summary run stopped by
# SIGINT ending with a capture_summary line that counts what happened.
#
# Skipped (exit 0) only when not root, when `ip netns add` is refused, or
# when Dovecot (dovecot-core, dovecot-imapd) is not installed.  Any other
# trouble is a failure (exit 1).
#
# The Dovecot config follows scripts/make-captures.sh (own base_dir,
# passwd-file, static userdb, Maildir); that script runs its main on load, so
# it cannot be sourced.  Env: IMAPSCOPE (binary), REPO (repository root).
set -u

here=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
IMAPSCOPE=${IMAPSCOPE:-$REPO/imapscope}
NS=imapscope-live-$$
T=
NS_MADE=0
DOVECOT_PID=
CAP_PID=
CLIENT_PID=

skip() { echo "live-dovecot: skipped ($*)"; exit 0; }
fail() { echo "live-dovecot: FAIL: $*"; exit 1; }

# ------------------------------------------------------------------ cleanup
cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	set +e
	for p in $CLIENT_PID $CAP_PID; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -n "$DOVECOT_PID" ]; then
		kill -TERM "$DOVECOT_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$DOVECOT_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DOVECOT_PID" 2>/dev/null
		wait "$DOVECOT_PID" 2>/dev/null
	fi
	if [ "$NS_MADE" = 1 ]; then
		# anything left in the namespace was started by this test (Dovecot's children)
		for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$NS" 2>/dev/null
	fi
	[ -n "$T" ] && rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ------------------------------------------------------------------ skips
[ "$(id -u)" = 0 ] || skip "not root: needs a network namespace, Dovecot and live capture"
if ! command -v dovecot >/dev/null 2>&1 || [ ! -x /usr/lib/dovecot/imap ] || [ ! -x /usr/lib/dovecot/imap-login ]; then
	skip "Dovecot not installed: apt-get install dovecot-core dovecot-imapd"
fi
if ! err=$(ip netns add "$NS" 2>&1); then
	skip "ip netns add failed: ${err:-no message}"
fi
NS_MADE=1

# ------------------------------------------------------------------ setup
[ -x "$IMAPSCOPE" ] || fail "no imapscope binary at $IMAPSCOPE"
command -v python3 >/dev/null || fail "python3 is needed for the client and the checks"
ip netns exec "$NS" ip link set lo up || fail "cannot bring lo up in $NS"
# not for "&": $! must be the PID of the program itself (ip netns exec execs it)
nsx() { ip netns exec "$NS" "$@"; }

T=$(mktemp -d /tmp/imapscope-live.XXXXXX) || fail "mktemp"
chmod 755 "$T"    # Dovecot's unprivileged processes walk into home/
mkdir -p "$T/run" "$T/state" "$T/home/alice/Maildir/"{cur,new,tmp}
printf 'alice:{PLAIN}alice-pw-5d2e::::::\n' >"$T/passwd"

# two messages; the first one's body carries a marker the client looks for
mkmsg() {	# mkmsg FILE N SUBJECT BODY
	printf '%s\r\n' "From: Sender <sender@example.test>" "To: Alice <alice@example.test>" \
		"Subject: $3" "Date: Fri, 21 Nov 2025 10:0$2:00 +0000" \
		"Message-ID: <live-$2@imapscope.test>" "" "$4" >"$1"
}
mkmsg "$T/home/alice/Maildir/cur/1763700001.M1P1.live:2,S" 1 "first" "live-marker-7f3a body of message one"
mkmsg "$T/home/alice/Maildir/cur/1763700002.M2P1.live:2," 2 "second" "body of message two"
chown -R 65534:65534 "$T/home"

cat >"$T/dovecot.conf" <<EOF
# written by tests/e2e/test_live_dovecot.sh
base_dir = $T/run
state_dir = $T/state
instance_name = imapscope-live-$$
log_path = $T/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $T/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=$T/home/%u
}
first_valid_uid = 1
mail_location = maildir:~/Maildir
default_login_user = dovenull
default_internal_user = dovecot
service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
EOF

# listening on 127.0.0.1:143 in the namespace (read /proc, no probe connection)
# shellcheck disable=SC2016
listening() { nsx awk '$2 == "0100007F:008F" && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp; }
ip netns exec "$NS" dovecot -F -c "$T/dovecot.conf" >"$T/dovecot.out" 2>&1 &
DOVECOT_PID=$!
for _ in $(seq 50); do
	listening && break
	kill -0 "$DOVECOT_PID" 2>/dev/null || break
	sleep 0.1
done
listening ||
	fail "Dovecot did not listen on 127.0.0.1:143: $(cat "$T/dovecot.out"; tail -5 "$T/dovecot.log" 2>/dev/null)"

# ------------------------------------------------------------------ helpers
# start_capture OUT ARGS...: imapscope -i lo in the namespace, in the background
start_capture() {
	local out=$1
	shift
	ip netns exec "$NS" "$IMAPSCOPE" -i lo "$@" >"$out" 2>"$out.err" &
	CAP_PID=$!
	# ready once its packet socket exists (the only one in this namespace)
	for _ in $(seq 50); do
		[ "$(nsx awk 'NR > 1' /proc/net/packet | wc -l)" -gt 0 ] && break
		kill -0 "$CAP_PID" 2>/dev/null || fail "imapscope $* did not start: $(cat "$out.err")"
		sleep 0.1
	done
	[ "$(nsx awk 'NR > 1' /proc/net/packet | wc -l)" -gt 0 ] || fail "imapscope $* opened no packet socket"
	sleep 0.3    # the BPF filter goes on just after the socket
}

# stop_capture OUT: SIGINT, then its exit status must be 0
stop_capture() {
	local rc
	kill -INT "$CAP_PID" || fail "imapscope is gone before SIGINT: $(cat "$1.err")"
	for _ in $(seq 50); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$CAP_PID" 2>/dev/null && fail "imapscope still running 5 s after SIGINT"
	wait "$CAP_PID"
	rc=$?
	CAP_PID=
	[ "$rc" = 0 ] || fail "imapscope exited $rc after SIGINT: $(cat "$1.err")"
}

# wait_lines FILE PATTERN N: until N lines match (events stream), at most 5 s
wait_lines() {
	for _ in $(seq 50); do
		[ "$(grep -c -- "$2" "$1")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# The client: A logs in, selects, fetches and logs out; C logs in and stays
# open until $T/release exists (eof at SIGINT); B fails to log in and logs
# out.  B comes last and from its own address (argv[2], on lo): Dovecot
# delays every later login from an address that has failed.
cat >"$T/client.py" <<'PY'
import imaplib, os, socket, sys, time
t, b_addr = sys.argv[1], sys.argv[2]

class FromAddr(imaplib.IMAP4):
    def _create_socket(self, timeout=None):
        return socket.create_connection((self.host, self.port), timeout, (b_addr, 0))

a = imaplib.IMAP4("127.0.0.1", 143)
a.login("alice", "alice-pw-5d2e")
typ, data = a.select("INBOX")
assert typ == "OK" and data[0] == b"2", (typ, data)
typ, data = a.fetch("1", "(BODY[])")
assert typ == "OK" and b"live-marker-7f3a" in data[0][1], (typ, data)
a.logout()
c = imaplib.IMAP4("127.0.0.1", 143)
c.login("alice", "alice-pw-5d2e")
b = FromAddr("127.0.0.1", 143)
try:
    b.login("alice", "wrong-pw-31c9")
    sys.exit("a wrong password was accepted")
except imaplib.IMAP4.error:
    pass
b.logout()
print("held", flush=True)
deadline = time.time() + 10
while not os.path.exists(os.path.join(t, "release")) and time.time() < deadline:
    time.sleep(0.05)
c.sock.close()
PY

# run_client B_ADDR: drive the client; returns once A and B are done and C is
# held open
run_client() {
	rm -f "$T/release" "$T/client.out"
	ip netns exec "$NS" timeout 15 python3 "$T/client.py" "$T" "$1" >"$T/client.out" 2>&1 &
	CLIENT_PID=$!
	for _ in $(seq 100); do
		grep -q held "$T/client.out" 2>/dev/null && return 0
		kill -0 "$CLIENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	fail "client failed: $(cat "$T/client.out")"
}

end_client() {
	touch "$T/release"
	wait "$CLIENT_PID" || fail "client failed at the end: $(cat "$T/client.out")"
	CLIENT_PID=
}

# ------------------------------------------------------------------ run 1: events
start_capture "$T/events.json" -F json
run_client 127.0.0.2
# streamed: A and B end (FIN) while the capture still runs
wait_lines "$T/events.json" '"type":"session_end"' 2 ||
	fail "the two closed sessions did not stream out before SIGINT: $(cut -c1-160 "$T/events.json" | tail -n 8; cat "$T/events.json.err")"
stop_capture "$T/events.json"
end_client

python3 - "$T/events.json" <<'PY' || exit 1
import json, sys

fails = []
def check(cond, what):
    if not cond:
        fails.append(what)

raw = open(sys.argv[1], encoding="utf-8").read()
ev = []
for n, line in enumerate(raw.splitlines(), 1):
    try:
        ev.append(json.loads(line))
    except ValueError as e:
        fails.append("line %d is not JSON (%s): %r" % (n, e, line[:200]))
by = lambda t: [e for e in ev if e.get("type") == t]

starts = by("session_start")
check(len(starts) == 3, "3 session_start events, got %d" % len(starts))
for s in starts:
    check(s.get("server") == "127.0.0.1:143", "session_start server 127.0.0.1:143: %s" % s)
    check(s.get("client", "").startswith("127.0.0."), "session_start client on 127.0.0.x: %s" % s)
    check(s.get("mid_stream") is False, "session_start not mid-stream: %s" % s)
sids = [s["session"] for s in starts]

# tag-matched responses
cmds = by("command")
resp = {(r["session"], r["tag"]): r for r in by("response")}
def answered(name, status):
    """the NAME commands answered STATUS, for NAME, under their own tag"""
    out = []
    for c in cmds:
        if c.get("command") != name:
            continue
        r = resp.get((c["session"], c["tag"]))
        if r and r.get("status") == status and r.get("command") == name:
            out.append(c)
    return out

login_ok = answered("LOGIN", "OK")
check(len(login_ok) == 2, "2 LOGINs answered OK under their tags, got %d" % len(login_ok))
login_no = answered("LOGIN", "NO")
check(len(login_no) == 1, "1 LOGIN answered NO under its tag, got %d" % len(login_no))
for name in ("SELECT", "FETCH"):
    got = answered(name, "OK")
    check(len(got) == 1, "1 %s answered OK under its tag, got %d" % (name, len(got)))
logout_ok = answered("LOGOUT", "OK")
check(len(logout_ok) == 2, "2 LOGOUTs answered OK under their tags, got %d" % len(logout_ok))
fetch = [c for c in cmds if c.get("command") == "FETCH"]
check(len(fetch) == 1 and fetch[0].get("args") == "1 (BODY[])", "FETCH args '1 (BODY[])': %s" % fetch)
sel = [c for c in cmds if c.get("command") == "SELECT"]
check(len(sel) == 1 and "INBOX" in sel[0].get("args", ""), "SELECT INBOX: %s" % sel)
for c in cmds:
    check((c["session"], c["tag"]) in resp, "command without a tagged response: %s" % c)

# the good session A holds LOGIN, SELECT, FETCH, LOGOUT in that order
if fetch:
    a = fetch[0]["session"]
    names = [c["command"] for c in cmds if c["session"] == a and c["command"] != "CAPABILITY"]
    check(names == ["LOGIN", "SELECT", "FETCH", "LOGOUT"], "session A commands in order: %s" % names)

# login audit
logins = by("login")
ok = [l for l in logins if l.get("result") == "ok"]
bad = [l for l in logins if l.get("result") == "fail"]
check(len(ok) == 2 and all(l.get("user") == "alice" for l in ok), "2 ok logins for alice: %s" % ok)
check(len(bad) == 1 and bad[0].get("user") == "alice" and bad[0].get("client", "").startswith("127.0.0.2:")
      and bad[0].get("code") == "AUTHENTICATIONFAILED", "1 failed login for alice from 127.0.0.2: %s" % bad)
check(len(logins) == 3, "3 login events, got %d" % len(logins))
for l in logins:
    check(l.get("server") == "127.0.0.1:143" and l.get("mechanism") == "LOGIN"
          and l.get("transport") == "plain", "login event fields: %s" % l)

# redacted by default
for secret in ("alice-pw-5d2e", "wrong-pw-31c9"):
    check(secret not in raw, "password %r appears in the output" % secret)

# ends: A and B closed with FIN, C still open at SIGINT ends with eof
ends = {e["session"]: e for e in by("session_end")}
check(sorted(ends) == sorted(sids), "a session_end for each session: starts %s ends %s" % (sids, sorted(ends)))
reasons = sorted(e.get("reason") for e in ends.values())
check(reasons == ["eof", "fin", "fin"], "session_end reasons fin, fin, eof: %s" % reasons)
if fetch and fetch[0]["session"] in ends:
    summ = ends[fetch[0]["session"]].get("summary", {})
    check(summ.get("literals_fetched") == 1 and summ.get("gaps") == 0,
          "session A: 1 literal fetched, no gaps: %s" % summ)

for f in fails:
    print("live-dovecot: FAIL: " + f)
sys.exit(1 if fails else 0)
PY

# ------------------------------------------------------------------ run 2: --summary
start_capture "$T/summary.json" --summary -F json
run_client 127.0.0.3
sleep 0.8    # well past the 200 ms read timeout: A's and B's FINs are in
stop_capture "$T/summary.json"
end_client

python3 - "$T/summary.json" <<'PY' || exit 1
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
if not lines:
    sys.exit("live-dovecot: FAIL: --summary printed nothing")
try:
    ev = [json.loads(l) for l in lines]
except ValueError as e:
    sys.exit("live-dovecot: FAIL: --summary output is not JSON Lines: %s" % e)
last = ev[-1]
fails = []
if last.get("type") != "capture_summary":
    fails.append("the last line is not a capture_summary: %s" % lines[-1][:300])
else:
    want = {"sessions": 3, "logins": {"ok": 2, "fail": 1, "unknown": 0, "aborted": 0}}
    for k, v in want.items():
        if last.get(k) != v:
            fails.append("capture_summary %s = %r, want %r" % (k, last.get(k), v))
    byname = last.get("commands_by_name", {})
    for name in ("LOGIN", "SELECT", "FETCH", "LOGOUT"):
        if not byname.get(name):
            fails.append("capture_summary commands_by_name has no %s: %s" % (name, byname))
    if last.get("servers") != 1 or last.get("messages_fetched") != 1:
        fails.append("capture_summary servers 1, messages_fetched 1: %s / %s"
                     % (last.get("servers"), last.get("messages_fetched")))
per = [e for e in ev if e.get("type") == "session_summary"]
if len(per) != 3:
    fails.append("3 session_summary lines, got %d" % len(per))
if sorted(e.get("end_reason") for e in per) != ["eof", "fin", "fin"]:
    fails.append("session_summary end reasons fin, fin, eof: %s" % [e.get("end_reason") for e in per])
for f in fails:
    print("live-dovecot: FAIL: " + f)
sys.exit(1 if fails else 0)
PY

echo "live-dovecot: all checks passed"
