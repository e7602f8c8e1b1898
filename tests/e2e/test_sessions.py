#!/usr/bin/env python3
"""--sessions: one row per session, agreeing with the timeline and with
--summary on every capture we have (TLS with its key log, COMPRESS, gaps);
--sort by each column; the text table within 120 columns for IPv4; long
values cut with a marker there and whole in JSON; bad usage exits 2."""
import glob
import json
import os
import subprocess
import sys

from public import public_dir, skip

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ["REPO"]
PUBLIC = public_dir()
CAPS = os.path.join(REPO, "captures")
CUT = "\u2026"
errors = []


def fail(msg):
    errors.append(msg)


def captures():
    files = sorted(glob.glob(os.path.join(CAPS, "*.pcap*")))
    if PUBLIC is None:
        skip("--sessions on the public captures")
    else:
        files += sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*")))
    return files


def keys(cap):
    k = os.path.splitext(cap)[0] + ".keylog"
    return ["-k", k] if os.path.exists(k) else []


def run(*args, check=True):
    r = subprocess.run([IMAPSCOPE, "-q", *args], capture_output=True)
    if check and r.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()[:200]))
    return r


def jsonl(*args):
    return [json.loads(line) for line in run(*args).stdout.decode().splitlines()]


def check_against_timeline(cap):
    """Each row against the session's own events and its --summary."""
    k = keys(cap)
    rows = jsonl("--sessions", "-F", "json", *k, cap)
    events = jsonl("-F", "json", *k, cap)
    summ = {o["session"]: o for o in jsonl("--summary", "-F", "json", *k, cap)
            if o["type"] == "session_summary"}
    ends = {e["session"]: e for e in events if e["type"] == "session_end"}
    starts = {e["session"]: e for e in events if e["type"] == "session_start"}
    name = os.path.basename(cap)
    if [r["session"] for r in rows] != sorted(starts):
        fail("%s: rows %r, sessions %r" % (name, [r["session"] for r in rows], sorted(starts)))
    for r in rows:
        w = "%s session %d" % (name, r["session"])
        st, end, sm = starts.get(r["session"]), ends.get(r["session"]), summ.get(r["session"])
        if st is None or end is None or sm is None:
            fail(w + ": no such session in the timeline or summary")
            continue
        sum_ = end["summary"]
        want = {"community_id": st.get("community_id"), "client": st["client"],
                "server": st["server"], "commands": sum_["commands"],
                "no": sum_["responses"]["NO"], "bad": sum_["responses"]["BAD"],
                "bytes_c2s": sum_["bytes_c2s"], "bytes_s2c": sum_["bytes_s2c"],
                "gaps": sum_["gaps"], "gap_bytes": sum_["gap_bytes"],
                "notices": sum_["notices"], "end_reason": end["reason"],
                "user": sm["user"], "transport": sm["transport"],
                "mid_stream": sm["mid_stream"], "duration_ms": sm["duration_ms"],
                "compressed": sm["compression"] is not None}
        for key, val in want.items():
            if r[key] != val:
                fail("%s: %s is %r, the timeline says %r" % (w, key, r[key], val))
        tls = None if sm["tls"] is None else {"version": sm["tls"]["version"],
                                              "decrypted": sm["tls"]["decrypted"]}
        if r["tls"] != tls:
            fail("%s: tls %r, --summary %r" % (w, r["tls"], tls))
        if r["ts"] != st["ts"] or r["start"] != st["ts"]:
            fail("%s: start %r, session_start at %r" % (w, r["start"], st["ts"]))
    return rows


def text_width(cap):
    lines = run("--sessions", *keys(cap), cap).stdout.decode("utf-8").splitlines()
    for line in lines:
        if len(line) > 120 and "[" not in line:    # IPv6 may be cut, never wider
            fail("%s: %d columns: %r" % (os.path.basename(cap), len(line), line))
    return lines


def check_sorts(caps):
    """Every column sorts; ties by id; counts largest first."""
    rows = jsonl("--sessions", "-F", "json", *caps)
    keyf = {
        "id": lambda r: r["session"], "start": lambda r: r["start"],
        "duration": lambda r: -r["duration_ms"], "commands": lambda r: -r["commands"],
        "bytes": lambda r: -(r["bytes_c2s"] + r["bytes_s2c"]), "no": lambda r: -r["no"],
        "bad": lambda r: -r["bad"], "bytes_c2s": lambda r: -r["bytes_c2s"],
        "bytes_s2c": lambda r: -r["bytes_s2c"], "client": lambda r: r["client"],
        "notices": lambda r: -r["notices"], "gaps": lambda r: -r["gap_bytes"],
        "community_id": lambda r: r["community_id"],
    }
    for col, f in keyf.items():
        got = [r["session"] for r in jsonl("--sessions", "--sort", col, "-F", "json", *caps)]
        want = [r["session"] for r in sorted(rows, key=lambda r: (f(r), r["session"]))]
        if got != want:
            fail("--sort %s: %r, expected %r" % (col, got, want))
        text = run("--sessions", "--sort", col, *caps).stdout.decode().splitlines()[1:]
        ids = [int(line.split()[0]) for line in text if line[:1] == " " or line[:1].isdigit()]
        if ids != want:
            fail("--sort %s text: %r, expected %r" % (col, ids, want))


def check_usage():
    cap = os.path.join(CAPS, "activity.pcap")
    for args, what in ((["--sessions", "--sort", "nope"], "unknown --sort column 'nope'"),
                       (["--sort", "bytes"], "--sort applies to --sessions only")):
        r = run(*args, cap, check=False)
        err = r.stderr.decode().splitlines()
        if r.returncode != 2 or len(err) != 1 or what not in err[0] or r.stdout:
            fail("%s: exit %d, stderr %r" % (args, r.returncode, err))


def check_views():
    """TLS with and without keys, COMPRESS, gaps, cut values, combining."""
    ctls = os.path.join(CAPS, "compress-tls.pcap")
    lines = run("--sessions", *keys(ctls), ctls).stdout.decode().splitlines()
    if "implicit 1.3  z" not in lines[1] or "*" in lines[1] or lines[-1] != "(z: COMPRESS=DEFLATE)":
        fail("compress-tls with keys: %r" % lines)
    lines = run("--sessions", ctls).stdout.decode().splitlines()
    if "implicit 1.3*" not in lines[1] or lines[-1] != "(*: TLS not decrypted)":
        fail("compress-tls without keys: %r" % lines)
    gaps = os.path.join(CAPS, "segments-removed.pcap")
    r = jsonl("--sessions", "-F", "json", gaps)[0]
    if r["gaps"] != 1 or r["gap_bytes"] != 4344:
        fail("segments-removed: gaps %r/%r" % (r["gaps"], r["gap_bytes"]))
    dual = os.path.join(CAPS, "dual-stack.pcap")
    text = run("--sessions", dual).stdout.decode().splitlines()
    if "[::1]:56300" not in text[2]:
        fail("dual-stack: %r" % text)
    # Combined with --summary and --logins: each report's lines, in one run.
    types = [o["type"] for o in jsonl("--sessions", "--summary", "-F", "json", gaps)]
    if types.count("session") != 1 or "capture_summary" not in types:
        fail("--sessions --summary: %r" % types)
    types = [o["type"] for o in jsonl("--sessions", "--logins", "-F", "json", gaps)]
    if types.count("session") != 1 or "login" not in types:
        fail("--sessions --logins: %r" % types)
    if PUBLIC is not None:
        cap = os.path.join(PUBLIC, "arkime-ntlm_synthetic.pcap")
        text = run("--sessions", cap).stdout.decode().splitlines()
        row = jsonl("--sessions", "-F", "json", cap)[0]
        if CUT not in text[1] or row["user"] is None or len(row["user"]) <= 9 or \
                row["user"][:8] not in text[1]:
            fail("long user: text %r, json %r" % (text[1], row["user"]))


def main():
    n = 0
    for cap in captures():
        rows = check_against_timeline(cap)
        n += len(rows)
        text = text_width(cap)
        if rows and len(text) < len(rows) + 1:
            fail("%s: %d text lines for %d rows" % (cap, len(text), len(rows)))
    check_sorts(sorted(glob.glob(os.path.join(CAPS, "*.pcap"))))
    check_usage()
    check_views()
    for e in errors[:40]:
        print("FAIL: " + e)
    print("test_sessions: %d rows checked, %d failures" % (n, len(errors)))
    if n < 20:
        print("test_sessions: too few rows checked")
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
