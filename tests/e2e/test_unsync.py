#!/usr/bin/env python3
"""Server lines that sync never confirmed, end to end (issue 14 item 7).

A one-sided capture (server to client only) picked up mid-stream, inside
an IDLE: the server's lines begin segments and parse cleanly, but no
client line ever confirms them.  They are shown at the session's end,
marked `unsynchronised`, in their order and with their own timestamps;
the tagged one completes nothing and proves no login.  A second flow whose
held lines are followed by a body line shows none of them (they may be a
literal's text).

The captures are generated with test_hostile.py's pcap writer.
Env: IMAPSCOPE (binary), REPO (root)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_hostile import ACK, CLIENT, PSH, SERVER, Pcap  # noqa: E402

IMAPSCOPE = os.environ["IMAPSCOPE"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def server_only(pcap, cport, segments):
    """Server segments of a connection begun before the capture."""
    seq = 77000
    for data in segments:
        pcap.packet(SERVER, CLIENT, 143, cport, seq, 1234, ACK | PSH, data)
        seq += len(data)


def make(path):
    p = Pcap(path)
    server_only(p, 40001, [b"* 2 EXISTS\r\n* 1 RECENT\r\n", b"11 OK Idle completed\r\n",
                           b"* 3 EXISTS\r\n"])
    server_only(p, 40002, [b"* 5 EXISTS\r\n* 1 RECENT\r\n", b"body text, not IMAP\r\n"])
    p.close()


def run(path, fmt):
    r = subprocess.run([IMAPSCOPE, "-F", fmt, path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, check=False)
    check(r.returncode == 0, f"-F {fmt}: exit {r.returncode}: {r.stderr[-300:]!r}")
    return r.stdout.decode(), r.stderr.decode()


def by_session(evs, port):
    sids = {e["session"] for e in evs
            if e["type"] == "session_start" and e.get("client", "").endswith(":%d" % port)}
    check(len(sids) == 1, f"one session for port {port}: {sids}")
    return [e for e in evs if e["session"] in sids]


def check_json(out):
    evs = [json.loads(l) for l in out.splitlines()]
    one = by_session(evs, 40001)
    lines = [e for e in one if e["type"] in ("untagged", "response", "greeting")]
    got = [(e["type"], e.get("name") or e.get("tag"), e.get("unsynchronised")) for e in lines]
    check(got == [("untagged", "EXISTS", True), ("untagged", "RECENT", True),
                  ("response", "11", True), ("untagged", "EXISTS", True)],
          f"the held lines are shown, marked, in order: {got}")
    ts = [e["ts"] for e in lines]
    check(ts == sorted(ts) and len(set(ts)) == 3, f"their own timestamps: {ts}")
    check(one[-1]["type"] == "session_end", "they come before session_end")
    resp = [e for e in lines if e["type"] == "response"]
    check(resp and resp[0].get("command") is None and resp[0].get("latency_ms") is None,
          f"the completion completes nothing: {resp}")
    check(not [e for e in one if e["type"] == "login"], "no inferred login from them")
    notes = [e["text"] for e in one if e["type"] == "notice" and e.get("kind") == "unsynchronised"]
    check(any("4 server lines shown marked unsynchronised" in n for n in notes), f"the notice says so: {notes}")
    two = by_session(evs, 40002)
    check(not [e for e in two if e["type"] in ("untagged", "response")],
          "a run broken by a body line stays hidden")
    check(not [e for e in evs if e.get("unsynchronised") is False], "the key only when true")


def check_schema(out):
    """The new key validates (test_schema.py sees no capture that has it)."""
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        print("skip schema check: python3-jsonschema is missing")
        return
    from test_schema import Checker, load_validators
    ck = Checker(load_validators())
    for i, text in enumerate(out.splitlines(), 1):
        ck.line(f"line {i}", text)
    check(ck.invalid == 0, f"the events match docs/events.schema.json: {ck.failures}")


def check_text(out):
    marked = [l for l in out.splitlines() if l.endswith(" [unsynchronised]")]
    check(len(marked) == 4, f"four text lines end with [unsynchronised]: {marked}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "unsync.pcap")
        make(path)
        out, _ = run(path, "json")
        check_json(out)
        check_schema(out)
        out, _ = run(path, "text")
        check_text(out)
    if failures:
        print("test_unsync: %d failures" % len(failures))
        return 1
    print("test_unsync: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
