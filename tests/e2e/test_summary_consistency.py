#!/usr/bin/env python3
"""--summary must agree with the timeline: every count in each
session_summary and in the capture_summary is recomputed here from the
-F json events of the same capture, on every capture we have."""
import collections
import glob
import json
import os
import subprocess
import sys

from public import public_dir, skip

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ["REPO"]
PUBLIC = public_dir()


def captures():
    files = []
    if PUBLIC is None:
        skip("--summary against the public captures' timelines")
    else:
        files = sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*")))
    files += sorted(glob.glob(os.path.join(REPO, "captures", "*.pcap*")))
    return files


def run(cap, *extra):
    args = [IMAPSCOPE, "-q", "-F", "json", *extra]
    keylog = os.path.splitext(cap)[0] + ".keylog"
    if os.path.exists(keylog):
        args += ["-k", keylog]
    r = subprocess.run(args + [cap], capture_output=True, check=True)
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


def expected(events):
    """Per-session and whole-capture figures, from the events alone."""
    per = collections.defaultdict(lambda: {
        "commands_by_name": collections.Counter(), "responses": collections.Counter(),
        "logins": collections.Counter(), "untagged": 0, "gaps": 0, "gap_bytes": 0,
        "latency": collections.defaultdict(list), "end": None})
    for ev in events:
        s = per[ev["session"]]
        t = ev["type"]
        if t == "command":
            s["commands_by_name"][ev["command"]] += 1
        elif t == "response":
            s["responses"][ev["status"]] += 1
            if ev["command"] is not None and ev["latency_ms"] is not None:
                s["latency"][ev["command"]].append(ev["latency_ms"])
        elif t == "login":
            s["logins"][ev["result"]] += 1
        elif t == "untagged":
            s["untagged"] += 1
        elif t == "gap":
            s["gaps"] += 1
            s["gap_bytes"] += ev["bytes"]
        elif t == "session_end":
            s["end"] = ev["summary"]
    return per


def check_capture(cap):
    errors = []
    per = expected(run(cap))
    summ = run(cap, "--summary")
    sessions = [o for o in summ if o["type"] == "session_summary"]
    total = summ[-1]

    def want(where, got, exp):
        if got != exp:
            errors.append("%s: summary says %r, timeline says %r" % (where, got, exp))

    want("sessions", sorted(o["session"] for o in sessions), sorted(per))
    for o in sessions:
        e = per[o["session"]]
        w = "session %d" % o["session"]
        want(w + " commands", o["commands"], sum(e["commands_by_name"].values()))
        want(w + " commands_by_name", o["commands_by_name"], dict(e["commands_by_name"]))
        want(w + " responses", {k: v for k, v in o["responses"].items() if v},
             dict(e["responses"]))
        want(w + " logins", {k: v for k, v in o["logins"].items() if v}, dict(e["logins"]))
        want(w + " untagged", o["untagged"], e["untagged"])
        want(w + " gaps", (o["gaps"], o["gap_bytes"]), (e["gaps"], e["gap_bytes"]))
        for name, lat in o["latency"].items():
            samples = e["latency"].get(name, [])
            want(w + " latency count " + name, lat["count"], len(samples))
            if samples:
                want(w + " latency max " + name, round(lat["max_ms"], 3),
                     round(max(samples), 3))
        if e["end"] is not None:
            for key in ("bytes_c2s", "bytes_s2c"):
                want(w + " " + key, o[key], e["end"][key])
    if total["type"] != "capture_summary":
        errors.append("the last line is not the capture_summary")
        return errors
    want("capture sessions", total["sessions"], len(per))
    want("capture commands", total["commands"],
         sum(sum(e["commands_by_name"].values()) for e in per.values()))
    resp = collections.Counter()
    logins = collections.Counter()
    for e in per.values():
        resp.update(e["responses"])
        logins.update(e["logins"])
    want("capture responses", {k: v for k, v in total["responses"].items() if v}, dict(resp))
    want("capture logins", {k: v for k, v in total["logins"].items() if v}, dict(logins))
    return errors


def main():
    failed = checked = 0
    for cap in captures():
        checked += 1
        errors = check_capture(cap)
        if errors:
            failed += 1
            print("FAIL %s:\n  %s" % (os.path.basename(cap), "\n  ".join(errors[:10])))
    print("summary consistency: %d captures, %d failed" % (checked, failed))
    if checked < 30:
        print("FAIL: too few captures found")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
