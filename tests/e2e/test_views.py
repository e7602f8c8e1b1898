#!/usr/bin/env python3
"""Everyday views on real captures (issue 21): the event filters (--since,
--until, --status, --command, --mailbox) in the timeline, --logins and
--summary; --width on every capture of the suite; the --logins table and
its roll-up; --logins --summary together; --summary's messages fetched and
its headings.  TLS (STARTTLS and implicit) and COMPRESS captures included."""
import glob
import json
import os
import subprocess
import sys
import unicodedata

from public import public_dir, skip

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ["REPO"]
PUBLIC = public_dir()
CAP = os.path.join(REPO, "captures")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def cap(name):
    return os.path.join(CAP, name)


def keys_of(path):
    kl = os.path.splitext(path)[0] + ".keylog"
    return ["-k", kl] if os.path.exists(kl) else []


def run(args, rc=0):
    r = subprocess.run([IMAPSCOPE, "-q"] + args, capture_output=True)
    check(r.returncode == rc, f"{args}: exit {r.returncode}, want {rc}: {r.stderr[-300:]!r}")
    return r.stdout.decode("utf-8", "replace")


def events(args):
    return [json.loads(l) for l in run(["-F", "json"] + args).splitlines() if l]


def columns(line):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def all_captures():
    caps = sorted(glob.glob(os.path.join(CAP, "*.pcap*")))
    if PUBLIC:
        caps += sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*")))
    else:
        skip("--width on the public captures")
    return caps


# --- --width ------------------------------------------------------------------

def case_width():
    """Every timeline line of every capture fits 120 display columns with
    --width 120; --width 0 is the output of a pipe without the option."""
    long_seen = 0
    for c in all_captures():
        base = keys_of(c) + [c]
        whole = run(base)
        long_seen += any(columns(l) > 120 for l in whole.splitlines())
        for w in (120, 80):
            for line in run(["--width", str(w)] + base).splitlines():
                if columns(line) > w:
                    check(False, f"{os.path.basename(c)} --width {w}: {columns(line)} columns: {line}")
                    break
        check(run(["--width", "0"] + base) == whole, f"{c}: --width 0 is not the whole lines")
    check(long_seen > 5, f"only {long_seen} captures have lines past 120: the test proves little")
    t = run(["--width", "100", "-k", cap("starttls13.keylog"), cap("starttls13.pcap")])
    check("[CAPABILITY IMAP4rev1 SASL-IR \u2026 +13] Dovecot (Debian) ready." in t,
          "greeting's capability list not collapsed")
    login = [l for l in t.splitlines() if " LOGIN alice via" in l]
    check(len(login) == 1 and "CAPABILITY" not in login[0], f"LOGIN line repeats the list: {login}")
    colored = run(["--width", "80", "--color", "always", "-k", cap("compress-tls.keylog"),
                   cap("compress-tls.pcap")])
    for line in colored.splitlines():
        plain = line
        while "\x1b[" in plain:
            i = plain.index("\x1b[")
            j = i + 2
            while plain[j] not in "m":
                j += 1
            plain = plain[:i] + plain[j + 1:]
        check(columns(plain) <= 80, f"colour codes counted as columns? {plain!r}")
    run(["--width", "39", cap("demo.pcap")], rc=2)
    run(["--width", "x", cap("demo.pcap")], rc=2)


# --- event filters ----------------------------------------------------------

def framing_ok(evs, what):
    """Per session: start first, end last, and both only around kept events."""
    by = {}
    for e in evs:
        by.setdefault(e["session"], []).append(e["type"])
    for s, types in by.items():
        check(types[0] == "session_start" and len(types) > 1,
              f"{what}: session {s} does not open with its start: {types[:3]}")
        check(types.count("session_start") == 1, f"{what}: session {s}: {types}")


def case_status():
    for c, args in (("commands.pcap", []), ("starttls13.pcap", ["-k", cap("starttls13.keylog")]),
                    ("compress-tls.pcap", ["-k", cap("compress-tls.keylog")]),
                    ("login-failures.pcap", [])):
        full = events(args + [cap(c)])
        want = [e["tag"] for e in full if e["type"] == "response" and e["status"] in ("NO", "BAD")]
        got = events(["--status", "NO,BAD"] + args + [cap(c)])
        framing_ok(got, f"--status {c}")
        tags = [e["tag"] for e in got if e["type"] == "response"]
        check(tags == want, f"--status NO,BAD {c}: responses {tags}, want {want}")
        cmds = [e["tag"] for e in got if e["type"] == "command"]
        check(set(cmds) <= set(want), f"--status {c}: commands {cmds} not all failed")
        for e in got:
            if e["type"] == "untagged":
                check(e.get("tag") in want, f"--status {c}: untagged of another command: {e}")
            check(e["type"] in ("session_start", "session_end", "command", "untagged",
                                "response", "continuation", "login"),
                  f"--status {c}: {e['type']} kept")
        fails = [e for e in got if e["type"] == "login"]
        check(all(l["result"] in ("fail", "aborted") or l.get("tag") in want for l in fails),
              f"--status {c}: a login of an OK kept")
        summ = [json.loads(l) for l in run(["--summary", "-F", "json", "--status", "NO,BAD"] + args
                                           + [cap(c)]).splitlines()]
        capsum = summ[-1]
        check(capsum["responses"]["OK"] == 0 and
              capsum["responses"]["NO"] + capsum["responses"]["BAD"] == len(want),
              f"--summary --status {c}: {capsum['responses']}")
    # the failed logins of the brute force, in the audit too
    lines = run(["--logins", "-F", "json", "--status", "NO", cap("login-failures.pcap")])
    rows = [json.loads(l) for l in lines.splitlines()]
    check([r["result"] for r in rows if r["type"] == "login"] == ["fail"] * 5,
          f"--logins --status NO: {[r.get('result') for r in rows]}")


def case_command():
    for c, args in (("mbsync.pcap", []), ("compress-tls.pcap", ["-k", cap("compress-tls.keylog")]),
                    ("implicit-ecdhe.pcap", ["-k", cap("implicit-ecdhe.keylog")])):
        full = events(args + [cap(c)])
        fetch_tags = {e["tag"] for e in full if e["type"] == "command"
                      and e["command"] in ("FETCH", "UID FETCH")}
        got = events(["--command", "fetch"] + args + [cap(c)])
        framing_ok(got, f"--command {c}")
        check({e["tag"] for e in got if e["type"] == "command"} == fetch_tags,
              f"--command FETCH {c}: commands differ")
        check({e["tag"] for e in got if e["type"] == "response"} == fetch_tags,
              f"--command FETCH {c}: completions differ")
        want_untagged = [e for e in full if e["type"] == "untagged" and e.get("tag") in fetch_tags]
        check(len([e for e in got if e["type"] == "untagged"]) == len(want_untagged),
              f"--command FETCH {c}: untagged lines differ")
        check(fetch_tags != set(), f"{c}: no FETCH to test with")


def case_time():
    c = cap("login-failures.pcap")
    full = events([c])
    t0 = full[0]["ts"]
    got_rel = events(["--since", "+5s", "--until", "+20s", c])
    got_abs = events(["--since", "2026-11-22T00:19:29.495049Z", "--until",
                      "2026-11-22T01:19:44.495049+01:00", c])
    check(t0 == "2026-11-22T00:19:24.495049Z", f"first event {t0}")
    check(got_rel == got_abs, "relative and absolute windows differ")
    framing_ok(got_rel, "--since")
    inner = [e for e in got_rel if e["type"] not in ("session_start", "session_end")]
    check(inner and all("2026-11-22T00:19:29.495049Z" <= e["ts"] <= "2026-11-22T00:19:44.495049Z"
                        for e in inner), "an event outside the window")
    want = [e for e in full if e["type"] not in ("session_start", "session_end")
            and "2026-11-22T00:19:29.495049Z" <= e["ts"] <= "2026-11-22T00:19:44.495049Z"]
    check(len(inner) == len(want), f"window: {len(inner)} events, want {len(want)}")
    # a login is kept when its command was sent in the window
    rows = [json.loads(l) for l in run(["--logins", "-F", "json", "--since", "+5s", "--until",
                                        "+20s", c]).splitlines()]
    logins = [r for r in rows if r["type"] == "login"]
    check([r["user"] for r in logins] == ["alice", "bob"], f"--logins window: {logins}")
    check(events(["--since", "+1d", c]) == [], "a window past the end keeps something")
    run(["--since", "yesterday", c], rc=2)
    run(["--until", "2026-11-22T00:19:29", c], rc=2)
    run(["--status", "FAIL", c], rc=2)


def case_mailbox():
    c = cap("mbsync.pcap")
    full = events([c])
    got = events(["--mailbox", "inbox", c])
    framing_ok(got, "--mailbox")
    sel = [e for e in got if e["type"] == "response" and e.get("command") == "SELECT"]
    check(len(sel) == 1 and sel[0]["status"] == "OK", f"--mailbox: the OK to SELECT: {sel}")
    check(len(got) > 10 and len(got) < len(full), f"--mailbox INBOX kept {len(got)} of {len(full)}")
    check(events(["--mailbox", "NoSuchBox", c]) == [], "--mailbox NoSuchBox kept events")
    t = events(["--mailbox", "INBOX", "-k", cap("activity-compress-tls.keylog"),
                cap("activity-compress-tls.pcap")])
    check(any(e["type"] == "untagged" for e in t), "--mailbox over TLS and COMPRESS kept nothing")


# --- --logins -----------------------------------------------------------------

def case_logins():
    for c in all_captures():
        base = keys_of(c) + [c]
        text = run(["--logins"] + base)
        for line in text.splitlines():
            check(columns(line) <= 120, f"--logins {os.path.basename(c)}: {columns(line)} columns")
        rows = [json.loads(l) for l in run(["--logins", "-F", "json"] + base).splitlines()]
        logins = [r for r in rows if r["type"] == "login"]
        summ = [r for r in rows if r["type"] == "login_summary"]
        check(all(r["type"] in ("login", "login_summary") for r in rows), f"{c}: other lines")
        check(rows[:len(logins)] == logins, f"{c}: the roll-up is not last")
        for by, key in (("user", lambda r: r["user"]),
                        ("client", lambda r: "[" + r["src_ip"] + "]" if ":" in r["src_ip"]
                         else r["src_ip"])):
            want = {}
            for r in logins:
                k = key(r)
                if k is None:
                    continue
                w = want.setdefault(k, [0, 0])
                w[0] += 1
                w[1] += r["result"] == "fail"
            got = {s["key"]: [s["attempts"], s["failures"]] for s in summ if s["by"] == by}
            check(got == want, f"{os.path.basename(c)} roll-up by {by}: {got}, want {want}")
    # long users are cut in the table, whole in JSON
    c = os.path.join(PUBLIC, "zeek-spicy-imap-5_Password_Brute_Imap.pcapng") if PUBLIC else None
    if c:
        t = run(["--logins", "--fail-threshold", "3", c])
        check("m01bot@relaxclo\u2026 " in t and "Authentication failed." in t, "cut user")
        check("\nflags: B brute force, C secret sent in cleartext" in t, "legend")
        rows = [json.loads(l) for l in run(["--logins", "-F", "json", c]).splitlines()]
        check(rows[0]["user"] == "m01bot@relaxcloud.cn", "JSON user not whole")
    t = run(["--logins", "--color", "always", cap("login-failures.pcap")])
    check("\x1b[1;31mFAIL\x1b[0m" in t, "FAIL not red")
    rows = [json.loads(l) for l in run(["--logins", "-F", "json", cap("login-failures.pcap")]).splitlines()]
    client = [r for r in rows if r["type"] == "login_summary" and r["by"] == "client"]
    check(len(client) == 1 and client[0]["success_after_failures"] is True,
          f"success after 5 failures: {client}")
    # IPv6 addresses in the table
    t = run(["--logins", cap("dual-stack.pcap")])
    check("::1" in t, "dual-stack: IPv6 client missing from --logins")


def case_logins_summary():
    c = cap("login-failures.pcap")
    t = run(["--logins", "--summary", c])
    table = run(["--logins", c])
    summary = run(["--summary", c])
    check(t == table + "\n" + summary, "--logins --summary is not the table, a blank line, the summary")
    j = [json.loads(l) for l in run(["--logins", "--summary", "-F", "json", c]).splitlines()]
    types = {r["type"] for r in j}
    check({"login", "login_summary", "session_summary", "capture_summary"} <= types,
          f"--logins --summary -F json: {types}")


# --- --summary -----------------------------------------------------------------

def case_summary():
    s = [json.loads(l) for l in run(["--summary", "-F", "json", cap("fetch-large.pcap")]).splitlines()]
    check(s[-1]["messages_fetched"] == 1, f"fetch-large: {s[-1]['messages_fetched']} messages")
    for c in all_captures():
        text = run(["--summary"] + keys_of(c) + [c]).splitlines()
        for i, line in enumerate(text):
            if line in ("  busiest clients", "  errors by command", "  latency"):
                check(i + 1 < len(text) and text[i + 1].startswith("    "),
                      f"{os.path.basename(c)}: empty heading {line.strip()!r}")
        j = [json.loads(l) for l in run(["--summary", "-F", "json"] + keys_of(c) + [c]).splitlines()]
        fetched = sum(x["messages_fetched"] or 0 for x in j if x["type"] == "session_summary")
        check(fetched == j[-1]["messages_fetched"], f"{c}: sessions' messages add up to {fetched}")
    # a header part and the body of one message are one message
    s = [json.loads(l) for l in run(["--summary", "-F", "json", "-k", cap("compress-tls.keylog"),
                                     cap("compress-tls.pcap")]).splitlines()]
    check(s[-1]["messages_fetched"] >= 1, f"compress-tls: {s[-1]['messages_fetched']}")


def main():
    for case in (case_width, case_status, case_command, case_time, case_mailbox, case_logins,
                 case_logins_summary, case_summary):
        case()
    if failures:
        print(f"test_views: {len(failures)} failures")
        sys.exit(1)
    print("test_views: ok")


main()
