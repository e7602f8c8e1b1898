#!/usr/bin/env python3
"""--activity against the activity-* captures' truth (captures/README.md,
"Activity truth"): the records of each session, in order, key by key.

Every key of the truth is compared exactly (wire text as imapscope
escapes it: a tab in a folded Subject is \x09).  PENDING names keys that
may be null where the truth knows them (none now).  The same records must come out in plain, STARTTLS (key log), COMPRESS
and COMPRESS inside TLS.  Then: text output, the roll-ups, --logins with
--activity, --user, and the schema of the new types is checked by
test_schema.py.  Env: IMAPSCOPE (binary), REPO (root)."""
import json
import os
import subprocess
import sys

IMAPSCOPE = os.environ.get("IMAPSCOPE", "./imapscope")
REPO = os.environ.get("REPO", ".")
CAPS = os.path.join(REPO, "captures")
PENDING = set()
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    p = subprocess.run([IMAPSCOPE, "-q", *args], capture_output=True, timeout=120)
    check(p.returncode == 0, f"{args}: exit {p.returncode}: {p.stderr[:300]!r}")
    return p.stdout.decode()


def records(capture, *extra):
    truth = json.load(open(os.path.join(CAPS, capture.rsplit(".", 1)[0] + ".truth.json")))
    args = ["-F", "json", "--activity", "-r", os.path.join(CAPS, capture), *extra]
    if truth.get("keylog"):
        args += ["-k", os.path.join(CAPS, truth["keylog"])]
    lines = [json.loads(l) for l in run(*args).splitlines()]
    return truth, lines


def escaped(v):
    """The truth as imapscope shows wire text: C0 controls and DEL as \\xNN
    (util/escape.h), everything else as is."""
    if isinstance(v, str):
        return "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7f else c for c in v)
    if isinstance(v, list):
        return [escaped(x) for x in v]
    return v


def compare(capture):
    truth, lines = records(capture)
    acts = [l for l in lines if l["type"] == "activity"]
    # sessions interleave in the output: each session's records against
    # its own truth (by client address), in order
    pairs = []
    for s in truth["sessions"]:
        mine = [a for a in acts if a["client"] == s["client"]]
        check(len(mine) == len(s["activity"]),
              f"{capture} {s['client']}: {len(mine)} records, truth {len(s['activity'])}")
        pairs += list(zip(mine, s["activity"]))
    check(len(acts) == sum(len(s["activity"]) for s in truth["sessions"]),
          f"{capture}: records of sessions the truth does not know")
    for i, (got, exp) in enumerate(pairs):
        for k, v in exp.items():
            g = got.get(k, "<absent>")
            if k in PENDING and g is None:
                continue
            v = escaped(v)
            check(g == v, f"{capture} record {i} ({exp['tag']} {exp['action']}): {k}={g!r}, truth {v!r}")
    sums = [l for l in lines if l["type"] == "activity_summary"]
    check(any(s["scope"] == "session" for s in sums), f"{capture}: no session roll-up")
    check(any(s["scope"] == "user" for s in sums), f"{capture}: no user roll-up")
    return acts


def main():
    plain = compare("activity.pcap")
    for cap in ("activity-starttls.pcap", "activity-compress.pcap",
                "activity-compress-tls.pcap", "activity-uid.pcap", "activity-qresync.pcap",
                "activity-concurrent.pcap"):
        compare(cap)
    # the same scenario through TLS and COMPRESS: the same actions
    for cap in ("activity-starttls.pcap", "activity-compress.pcap", "activity-compress-tls.pcap"):
        _, lines = records(cap)
        got = [(l["tag"], l["action"], l.get("seq")) for l in lines if l["type"] == "activity"]
        want = [(l["tag"], l["action"], l.get("seq")) for l in plain]
        check(len(got) >= len(want) - 1, f"{cap}: {len(got)} actions, plain has {len(want)}")

    # the roll-up of the plain scenario, as a responder reads it
    text = run("--activity", "-r", os.path.join(CAPS, "activity.pcap"))
    check("alice from 127.0.0.1 (1 session): read 5 messages (1.2 kB) in INBOX" in text, "text user roll-up")
    check("moved 1 to Archive" in text and "appended 1 to Exfil" in text, "text roll-up verbs")
    check(" -> NO [TRYCREATE]" in text, "refused COPY shows NO [TRYCREATE]")

    # with --logins: both kinds of line
    both = [json.loads(l) for l in run("-F", "json", "--logins", "--activity", "-r",
                                       os.path.join(CAPS, "activity.pcap")).splitlines()]
    types = {l["type"] for l in both}
    check({"login", "activity", "activity_summary"} <= types, f"--logins --activity: {types}")

    # --user keeps only that user's sessions
    none = run("-F", "json", "--activity", "--user", "nobody", "-r",
               os.path.join(CAPS, "activity.pcap"))
    check(none.strip() == "", "--user nobody: no records")
    bob = [json.loads(l) for l in run("-F", "json", "--activity", "--user", "bob", "-r",
                                      os.path.join(CAPS, "activity-uid.pcap")).splitlines()]
    check(bob and all(l.get("user") == "bob" for l in bob), "--user bob: only bob's records")

    # a session that never logged in does nothing
    demo = run("-F", "json", "--activity", "-r", os.path.join(CAPS, "login-failures.pcap"))
    check('"type":"activity"' not in demo, "failed logins: no activity")

    # --activity and --summary do not combine
    p = subprocess.run([IMAPSCOPE, "--activity", "--summary", "-r",
                        os.path.join(CAPS, "demo.pcap")], capture_output=True)
    check(p.returncode == 2, "--activity --summary is a usage error")

    if failures:
        print(f"test_activity: {len(failures)} failures")
        sys.exit(1)
    print("test_activity: ok")


main()
