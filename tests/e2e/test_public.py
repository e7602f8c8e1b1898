#!/usr/bin/env python3
"""What imapscope must report on the public third-party captures.

Each expectation was checked by hand against the stream bytes (--streams),
tshark's IMAP dissector and ../shared/captures/public/PROVENANCE.md.
Command lists are exact, so a ghost command (body text or SASL data read as
a command) fails the test as surely as a missing one."""
import collections
import json
import os
import subprocess
import sys

IMAPSCOPE = os.environ["IMAPSCOPE"]
PUBLIC = os.environ["PUBLIC"]

BRUTE_USER = "m01bot@relaxcloud.cn"
SPICY_USER = "digitalinvestigator@networksims.com"

EXPECT = {
    "ndpi-imap.pcap": dict(
        commands=[("C00000", "CAPABILITY"), ("C00001", "LOGIN"), ("C00002", "LIST"),
                  ("C00003", "LSUB"), ("C00004", "SELECT"), ("C00005", "UID FETCH")],
        responses={"OK": 6}, matched=6,
        logins=[("samir", "LOGIN", "ok")], greetings=1, sessions=1, gaps=0),
    "arkime-imap.pcap": dict(
        command_counts={"NOOP": 14, "FETCH": 3, "SELECT": 2, "STORE": 2, "CAPABILITY": 1,
                        "LOGIN": 1, "LIST": 1, "EXPUNGE": 1, "CLOSE": 1},
        responses={"OK": 26}, matched=26,
        logins=[("neulingern", "LOGIN", "ok")], greetings=1, sessions=1, gaps=0),
    "arkime-imap-tag.pcap": dict(
        commands=[], responses={}, logins=[], greetings=1, sessions=1),
    "arkime-ntlm_synthetic.pcap": dict(
        # the base64 NTLM lines after "+" are SASL data, not commands
        commands=[("a001", "AUTHENTICATE"), ("a002", "LOGOUT")],
        responses={"OK": 2}, matched=2,
        logins=[("IMAPDOM\\kate", "NTLM", "ok")], greetings=1, sessions=1,
        clients=["[2001:db8:120::100]:50012"], continuations_min=3),
    "arkime-arkime_synthetic.pcap": dict(
        # session 1's server announces {150} but sends fewer bytes: the
        # literal swallows the rest of the stream, as the protocol says
        commands=[("A001", "SELECT"), ("a1", "SELECT"), ("a2", "FETCH")],
        # session 2's "a1 OK SELECT completed" proves a login not captured
        responses={"OK": 2}, matched=2, logins=[(None, None, "ok")], greetings=2, sessions=2),
    "zeek-spicy-imap-5_Password_Brute_Imap.pcapng": dict(
        command_counts={"CAPABILITY": 5, "AUTHENTICATE": 5},
        responses={"OK": 6, "NO": 4}, matched=10,
        logins=sorted([(BRUTE_USER, "PLAIN", "fail")] * 4 + [(BRUTE_USER, "PLAIN", "ok")]),
        greetings=5, sessions=5, gaps=0),
    "zeek-spicy-imap-imap.pcap": dict(
        # lower-case commands, APPEND {452+}, IDLE x9, a mid-stream session
        command_counts={"UID FETCH": 11, "IDLE": 9, "GETQUOTAROOT": 4, "NOOP": 4,
                        "UID STORE": 3, "LOGOUT": 3, "LIST": 2, "CAPABILITY": 2,
                        "AUTHENTICATE": 2, "ID": 2, "CLOSE": 2, "CREATE": 1,
                        "SUBSCRIBE": 1, "APPEND": 1, "SELECT": 1},
        responses={"OK": 49}, matched=48,
        # the mid-stream session's LIST OK proves its (uncaptured) login
        logins=[(SPICY_USER, "PLAIN", "ok")] * 2 + [(None, None, "ok")], greetings=2, sessions=3,
        mid_stream=[1], args={"APPEND": "\"Sent\" (\\Seen) {452+}"}),
    "zeek-imap-starttls.pcap": dict(
        commands=[(".", "CAPABILITY"), (".", "STARTTLS")],
        responses={"OK": 2}, matched=2, logins=[], greetings=1, sessions=1,
        tls=[("starttls", False)]),
    "chrissanders-mail_receiver_server_3.pcapng": dict(
        commands=[("1", "STARTTLS")], responses={"OK": 1}, matched=1, logins=[],
        greetings=1, sessions=1, tls=[("starttls", False)]),
    "lekensteyn-imap-ssl.pcapng": dict(
        commands=[(".", "CAPABILITY"), (".", "STARTTLS")], responses={"OK": 2},
        matched=2, logins=[], greetings=1, sessions=1, tls=[("starttls", False)]),
    "suricata-verify-tcp-async-01.pcap": dict(
        # only the server's side: completions without commands, and the
        # client's bytes reported as gaps; "C3 OK LOGIN completed" proves a
        # login (inferred)
        commands=[], responses={"OK": 9}, matched=0, logins=[(None, None, "ok")], greetings=1,
        sessions=1, gaps_min=1),
    "ndpi-imaps.pcap": dict(
        commands=[], responses={}, logins=[], sessions=2,
        tls=[("implicit", False), ("implicit", False)]),
    "zeek-telesec-imaps.pcap": dict(
        commands=[], responses={}, logins=[], sessions=1, tls=[("implicit", False)]),
}

# The same captures run with their key logs: (capture, key log) -> what
# must be seen.  The key log sits beside the capture in PUBLIC.
EXPECT_KEYED = {
    ("lekensteyn-imap-ssl.pcapng", "lekensteyn-imap-ssl.keylog"): dict(
        # the client ends its lines with a bare LF, inside TLS as well
        commands=[(".", "CAPABILITY"), (".", "STARTTLS"), ("a001", "CAPABILITY"),
                  ("a002", "CAPABILITY")],
        responses={"OK": 4}, matched=4, logins=[], greetings=1, sessions=1, gaps=0,
        tls=[("starttls", True)],
        tls_detail=[("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", None)]),
}


def run(path, extra=()):
    r = subprocess.run([IMAPSCOPE, "-q", "-F", "json", *extra, path],
                       capture_output=True)
    if r.returncode != 0:
        raise AssertionError("exit %d: %s" % (r.returncode, r.stderr.decode()))
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


def check(name, exp, events):
    errors = []

    def want(what, got, expected):
        if got != expected:
            errors.append("%s: got %r, want %r" % (what, got, expected))

    by = collections.defaultdict(list)
    for ev in events:
        by[ev["type"]].append(ev)
    cmds = [(e["tag"], e["command"]) for e in by["command"]]
    if "commands" in exp:
        want("commands", cmds, exp["commands"])
    if "command_counts" in exp:
        want("command counts", dict(collections.Counter(c for _, c in cmds)),
             exp["command_counts"])
    want("responses", dict(collections.Counter(e["status"] for e in by["response"])),
         exp["responses"])
    if "matched" in exp:
        want("matched responses", sum(1 for e in by["response"] if e["command"]),
             exp["matched"])
    def login_key(t):       # an inferred login has no user or mechanism
        return tuple("" if x is None else x for x in t)
    want("logins", sorted(((e["user"], e["mechanism"], e["result"]) for e in by["login"]),
                          key=login_key), sorted(exp["logins"], key=login_key))
    if "greetings" in exp:
        want("greetings", len(by["greeting"]), exp["greetings"])
    want("sessions", len(by["session_start"]), exp["sessions"])
    want("session ends", len(by["session_end"]), exp["sessions"])
    if "gaps" in exp:
        want("gaps", len(by["gap"]), exp["gaps"])
    if len(by["gap"]) < exp.get("gaps_min", 0):
        errors.append("gaps: %d, want at least %d" % (len(by["gap"]), exp["gaps_min"]))
    if "tls" in exp:
        want("tls", [(e["phase"], e["decrypted"]) for e in by["tls"]], exp["tls"])
    if "tls_detail" in exp:
        want("tls handshake", [(e["version"], e["cipher"], e["reason"]) for e in by["tls"]],
             exp["tls_detail"])
    if "clients" in exp:
        want("clients", [e["client"] for e in by["session_start"]], exp["clients"])
    if "mid_stream" in exp:
        want("mid-stream sessions",
             [e["session"] for e in by["session_start"] if e["mid_stream"]],
             exp["mid_stream"])
    if len(by["continuation"]) < exp.get("continuations_min", 0):
        errors.append("continuations: %d" % len(by["continuation"]))
    for cmd, args in exp.get("args", {}).items():
        want("%s args" % cmd, [e["args"] for e in by["command"] if e["command"] == cmd],
             [args])
    for e in by["response"]:
        if e["command"] is None and e["latency_ms"] is not None:
            errors.append("unmatched response %s has a latency" % e["tag"])
    return errors


def main():
    failed = 0
    for name, exp in sorted(EXPECT.items()):
        path = os.path.join(PUBLIC, name)
        if not os.path.exists(path):
            print("FAIL %s: missing" % name)
            failed += 1
            continue
        try:
            errors = check(name, exp, run(path))
        except AssertionError as e:
            errors = [str(e)]
        if errors:
            failed += 1
            print("FAIL %s:\n  %s" % (name, "\n  ".join(errors)))
        else:
            print("ok   %s" % name)
    for (name, keylog), exp in sorted(EXPECT_KEYED.items()):
        path = os.path.join(PUBLIC, name)
        if not os.path.exists(path) or not os.path.exists(os.path.join(PUBLIC, keylog)):
            print("FAIL %s -k %s: missing" % (name, keylog))
            failed += 1
            continue
        try:
            errors = check(name, exp, run(path, ["-k", os.path.join(PUBLIC, keylog)]))
        except AssertionError as e:
            errors = [str(e)]
        if errors:
            failed += 1
            print("FAIL %s -k %s:\n  %s" % (name, keylog, "\n  ".join(errors)))
        else:
            print("ok   %s -k %s" % (name, keylog))
    print("public captures: %d checked, %d failed" % (len(EXPECT) + len(EXPECT_KEYED), failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
