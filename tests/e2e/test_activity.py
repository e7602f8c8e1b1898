#!/usr/bin/env python3
"""--activity against the activity-* captures' truth (captures/README.md,
"Activity truth"): the records of each session, in order, key by key.

Every key of the truth is compared exactly (wire text as imapscope
escapes it: a tab in a folded Subject is \x09).  PENDING names keys that
may be null where the truth knows them (none now).  The same records must come out in plain, STARTTLS (key log), COMPRESS
and COMPRESS inside TLS.  Then: text output, the roll-ups, the JSON v 2
line (frames, flow keys), --logins and --summary with --activity,
--user, --host, --session, --extract's index joined to the records, and
--max-memory (a loss counted, no crash); the schema of the new types is
checked by test_schema.py.  Env: IMAPSCOPE (binary), REPO (root)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

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

    # every record is a v 2 line: the frames of the response that told it
    # and the session's flow, like the timeline's events
    cap = os.path.join(CAPS, "activity.pcap")
    timeline = [json.loads(l) for l in run("-F", "json", "-r", cap).splitlines()]
    frames = {e["frame"] for e in timeline if e["type"] in ("untagged", "response")}
    flow = next(e for e in timeline if e["type"] == "session_start")
    for a in plain:
        check(list(a)[:4] == ["v", "ts", "session", "type"] and a["v"] == 2,
              f"record {a['tag']}: starts {list(a)[:4]}")
        check(a.get("frame") in frames, f"record {a['tag']}: frame {a.get('frame')}")
        for k in ("flow_id", "community_id", "src_ip", "src_port", "dest_ip", "dest_port"):
            check(a.get(k) == flow[k], f"record {a['tag']}: {k}")

    # with --summary: both reports' lines, the summary's unchanged
    both = [json.loads(l) for l in run("-F", "json", "--summary", "--activity", "-r",
                                       cap).splitlines()]
    alone = [json.loads(l) for l in run("-F", "json", "--summary", "-r", cap).splitlines()]
    check([l for l in both if l["type"] in ("session_summary", "capture_summary")] == alone,
          "--summary --activity: the summary lines as --summary alone")
    check(len([l for l in both if l["type"] == "activity"]) == len(plain),
          "--summary --activity: every activity record")

    # --host and --session narrow like --user
    conc = os.path.join(CAPS, "activity-concurrent.pcap")
    every = [json.loads(l) for l in run("-F", "json", "--activity", "-r", conc).splitlines()]
    sids = sorted({l["session"] for l in every if l["type"] == "activity"})
    check(len(sids) >= 2, f"activity-concurrent: sessions {sids}")
    one = [json.loads(l) for l in run("-F", "json", "--activity", "--session", str(sids[1]),
                                      "-r", conc).splitlines()]
    check(one and all(l["session"] in (sids[1], 0) for l in one), "--session: one session's")
    check([l for l in one if l["type"] == "activity"] ==
          [l for l in every if l["type"] == "activity" and l["session"] == sids[1]],
          "--session: the same records")
    client = next(l["client"] for l in every if l["type"] == "activity")
    host = [json.loads(l) for l in run("-F", "json", "--activity", "--host", client,
                                       "-r", conc).splitlines()]
    check(host and all(l.get("client", client) == client for l in host), "--host: one client's")

    # --extract: each fetched body's index line joins the read record of the
    # same FETCH by session, mailbox, uidvalidity, uid (and ts, seq)
    tmp = tempfile.mkdtemp(prefix="imapscope-act-")
    try:
        out = os.path.join(tmp, "x")
        recs = [json.loads(l) for l in run("-F", "json", "--activity", "--extract", out,
                                           "-r", cap).splitlines()]
        reads = {(r["session"], r["ts"], r["seq"]): r for r in recs
                 if r["type"] == "activity" and r["action"] in ("read", "read_headers")}
        index = [json.loads(l) for l in open(os.path.join(out, "index.jsonl"))]
        fetched = [e for e in index if e["direction"] == "fetched"]
        check(fetched, "--extract: bodies fetched")
        for e in fetched:
            r = reads.get((e["session"], e["ts"], e["seq"]))
            check(r is not None, f"--extract {e['section']} seq {e['seq']}: no read record")
            if r is None:
                continue
            check(e["mailbox"] == r["mailbox"] and e["uidvalidity"] == r["uidvalidity"],
                  f"--extract seq {e['seq']}: mailbox/uidvalidity differ")
            # with --activity the index's UID is the session's map's too
            check(e["uid"] == r["uid"], f"--extract seq {e['seq']}: uid {e['uid']}, record {r['uid']}")
        check(any(e["uid"] is not None for e in fetched), "--extract: some uid to join on")
    finally:
        shutil.rmtree(tmp)

    # --max-memory too small: no crash, fewer records, what was refused
    # counted (the roll-ups' "lost") and said on stderr
    plain_all = [json.loads(l) for l in
                 run("-F", "json", "--activity", "-r", cap).splitlines()]
    for mem in ("32K", "48K"):
        p = subprocess.run([IMAPSCOPE, "-F", "json", "--activity", "--max-memory", mem,
                            "-r", cap], capture_output=True, timeout=60)
        err = p.stderr.decode()
        got = [json.loads(l) for l in p.stdout.decode().splitlines()]
        check(p.returncode == 0, f"--max-memory {mem}: exit {p.returncode}")
        check("--activity: " in err and "not followed" in err, f"--max-memory {mem}: no loss said")
        check(len([l for l in got if l["type"] == "activity"]) < len(plain),
              f"--max-memory {mem}: nothing refused?")
        # where the loss landed depends on which allocation was refused: a
        # roll-up counts it, or the roll-up itself is what was lost
        rolls = [l for l in got if l["type"] == "activity_summary"]
        full = [l for l in plain_all if l["type"] == "activity_summary"]
        check(any(l.get("lost", 0) > 0 for l in rolls) or len(rolls) < len(full),
              f"--max-memory {mem}: the loss shows in no roll-up")

    if failures:
        print(f"test_activity: {len(failures)} failures")
        sys.exit(1)
    print("test_activity: ok")


main()
