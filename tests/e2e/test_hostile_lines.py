#!/usr/bin/env python3
"""Hostile literals, end to end: a client literal that announces 2^64-1
bytes must not swallow the rest of the direction.  When the server refuses
the command (tagged NO/BAD before the literal ends) or answers commands sent
after it, the literal did not happen: what followed it is read as commands
(a LOGIN hidden there is a login), with a notice.  A real literal whose
body holds command look-alikes stays a literal while the server answers
only commands sent before it.

The captures are generated with test_hostile.py's pcap writer.
Env: IMAPSCOPE (binary), REPO (root)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_hostile import Conn, Pcap, greet  # noqa: E402

IMAPSCOPE = os.environ["IMAPSCOPE"]
HUGE = b"18446744073709551615"      # 2^64 - 1
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def capture(path, exchange):
    p = Pcap(path)
    c = Conn(p)
    greet(c)
    for side, data in exchange:
        c.send(side, data)
    c.fin()
    p.close()


def run(path):
    r = subprocess.run([IMAPSCOPE, "-F", "json", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, check=False)
    check(r.returncode == 0, f"{os.path.basename(path)}: exit {r.returncode}: {r.stderr[-300:]!r}")
    return [json.loads(l) for l in r.stdout.decode().splitlines()], r.stderr.decode()


def tags(evs, kind):
    return [e["tag"] for e in evs if e["type"] == kind]


def case_refused_literal_plus(tmp):
    """LITERAL+ of 2^64-1 bytes, refused at once: the LOGIN behind it counts."""
    path = os.path.join(tmp, "refused-plus.pcap")
    capture(path, [
        ("c", b"a1 APPEND INBOX {" + HUGE + b"+}\r\na2 LOGIN admin s3cret\r\na3 SELECT INBOX\r\n"),
        ("s", b"a1 BAD Literal too big\r\na2 OK Logged in\r\n"
              b"* 1 EXISTS\r\na3 OK [READ-WRITE] Select completed\r\n"),
        ("c", b"a4 LOGOUT\r\n"),
        ("s", b"* BYE bye\r\na4 OK Logout completed\r\n"),
    ])
    evs, err = run(path)
    name = "refused LITERAL+"
    check(tags(evs, "command") == ["a1", "a2", "a3", "a4"],
          f"{name}: commands {tags(evs, 'command')}, not a1..a4")
    resp = {e["tag"]: e for e in evs if e["type"] == "response"}
    check(all(resp.get(t, {}).get("command") for t in ("a1", "a2", "a3", "a4")),
          f"{name}: completions not matched to their commands: {resp}")
    logins = [e for e in evs if e["type"] == "login"]
    check(len(logins) == 1 and logins[0]["user"] == "admin" and logins[0]["result"] == "ok",
          f"{name}: the hidden LOGIN is not an ok login of admin: {logins}")
    check("s3cret" not in json.dumps(evs), f"{name}: the password is shown")
    notices = [l for l in err.splitlines() if "literal" in l and "did not happen" in l]
    check(len(notices) == 1, f"{name}: no single notice about the literal: {err!r}")


def case_later_tags(tmp):
    """A synchronising 2^64-1 literal the server never accepted: its answers
    to later tags end it."""
    path = os.path.join(tmp, "later-tags.pcap")
    capture(path, [
        ("c", b"a1 APPEND INBOX {" + HUGE + b"}\r\n"),
        ("c", b"a2 LOGIN admin s3cret\r\n"),
        ("s", b"a2 OK Logged in\r\n"),
        ("c", b"a3 NOOP\r\n"),
        ("s", b"a3 OK done\r\n"),
    ])
    evs, err = run(path)
    name = "answers to later tags"
    check(tags(evs, "command") == ["a1", "a2", "a3"],
          f"{name}: commands {tags(evs, 'command')}, not a1..a3")
    check(tags(evs, "response") == ["a2", "a3"] and
          all(e.get("command") for e in evs if e["type"] == "response"),
          f"{name}: completions {tags(evs, 'response')} not matched")
    logins = [e for e in evs if e["type"] == "login"]
    check(len(logins) == 1 and logins[0]["user"] == "admin" and logins[0]["result"] == "ok",
          f"{name}: the hidden LOGIN is not an ok login of admin: {logins}")
    check("did not happen" in err, f"{name}: no notice about the literal: {err!r}")


def case_real_literal_no_ghost(tmp):
    """The server answers only tags sent before the literal: nothing ends it."""
    path = os.path.join(tmp, "real-literal-2.pcap")
    body = b"b7 LOGIN ghost pw\r\nb8 DELETE INBOX\r\n" * 50
    capture(path, [
        ("c", b"b1 NOOP\r\n"),
        ("c", b"b2 APPEND INBOX {" + str(len(body)).encode() + b"+}\r\n" + body[:700]),
        ("s", b"b1 OK done\r\n"),
        ("c", body[700:] + b"\r\n"),
        ("s", b"b2 OK [APPENDUID 1 1] Append completed\r\n"),
    ])
    evs, err = run(path)
    name = "real literal, earlier tag answered"
    check(tags(evs, "command") == ["b1", "b2"], f"{name}: commands {tags(evs, 'command')}")
    check(not [e for e in evs if e["type"] == "login" and e.get("user") == "ghost"],
          f"{name}: a login from the body")
    check("did not happen" not in err, f"{name}: the literal was given up: {err!r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        case_refused_literal_plus(tmp)
        case_later_tags(tmp)
        case_real_literal_no_ghost(tmp)
    if failures:
        print(f"test_hostile_lines: {len(failures)} failures")
        sys.exit(1)
    print("test_hostile_lines: bogus literals end where the server says so")


if __name__ == "__main__":
    main()
