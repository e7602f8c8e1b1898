#!/usr/bin/env python3
"""How lines become events, on the project's own captures (no $PUBLIC):

- a command with synchronising literals is stamped when it was sent, comes
  before the "+" that answered it, its latency runs from its first byte
  (checked against the client-side truth) and its completion says how long
  it waited for each "+" (continuation_wait_ms), in JSON and text;
- with snap length 200 a completion whose tail was cut is still a
  completion (truncated: true), and the LOGIN it completes is a login.
Env: IMAPSCOPE (binary), REPO (root)."""
import json
import os
import subprocess
import sys

IMAPSCOPE = os.environ.get("IMAPSCOPE", "./imapscope")
REPO = os.environ.get("REPO", ".")
CAPS = os.path.join(REPO, "captures")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def events(capture, *extra):
    r = subprocess.run([IMAPSCOPE, "-q", "-F", "json", *extra, os.path.join(CAPS, capture)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    check(r.returncode == 0, f"{capture}: exit {r.returncode}")
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


def text(capture):
    r = subprocess.run([IMAPSCOPE, "-q", os.path.join(CAPS, capture)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    return r.stdout.decode(errors="replace")


def truth(capture):
    with open(os.path.join(CAPS, capture.rsplit(".", 1)[0] + ".truth.json")) as f:
        return {c["tag"]: c for c in json.load(f)["sessions"][0]["commands"]}


def check_sync_literals(capture, tag, n_plus):
    evs = events(capture)
    want = truth(capture)[tag]
    i_cmd = next((i for i, e in enumerate(evs)
                  if e["type"] == "command" and e["tag"] == tag), None)
    i_resp = next((i for i, e in enumerate(evs)
                   if e["type"] == "response" and e["tag"] == tag), None)
    check(i_cmd is not None and i_resp is not None, f"{capture} {tag}: command or completion missing")
    if i_cmd is None or i_resp is None:
        return
    pluses = [i for i in range(i_cmd + 1, i_resp)
              if evs[i]["type"] == "continuation" and evs[i]["dir"] == "s2c"]
    check(len(pluses) == n_plus,
          f"{capture} {tag}: {len(pluses)} '+' between the command and its completion, not {n_plus}")
    before = [e for e in evs[:i_cmd] if e["type"] == "continuation" and e["dir"] == "s2c"
              and e["ts"] > evs[i_cmd]["ts"]]
    check(not before, f"{capture} {tag}: a '+' answering the command is shown before it")
    check(all(evs[i]["ts"] >= evs[i_cmd]["ts"] for i in pluses),
          f"{capture} {tag}: the command is stamped after its '+'")
    resp = evs[i_resp]
    real = (want["t_done"] - want["t_sent"]) * 1000
    lat = resp.get("latency_ms")
    check(lat is not None and abs(lat - real) <= max(0.5, real * 0.15),
          f"{capture} {tag}: latency {lat} ms, the client saw {real:.3f} ms")
    waits = resp.get("continuation_wait_ms")
    check(isinstance(waits, list) and len(waits) == n_plus and all(0 <= w <= lat for w in waits),
          f"{capture} {tag}: continuation_wait_ms {waits!r} (latency {lat})")
    line = next((l for l in text(capture).splitlines() if f" S {tag} " in l), "")
    check("(+ after " in line, f"{capture} {tag}: the text completion does not say the '+' waits: {line!r}")


def check_snaplen():
    evs = events("snaplen200.pcap")
    resp = [e for e in evs if e["type"] == "response" and e["tag"] == "a001"]
    check(len(resp) == 1 and resp[0]["status"] == "OK" and resp[0].get("truncated") is True
          and resp[0]["command"] == "LOGIN",
          f"snaplen200: the cut 'a001 OK [CAPABILITY' is not a truncated completion: {resp!r}")
    logins = [e for e in evs if e["type"] == "login"]
    check(len(logins) == 1 and logins[0]["result"] == "ok" and logins[0]["user"] == "alice",
          f"snaplen200: the LOGIN completed by a cut line is not an ok login: {logins!r}")
    cut_cmd = [e for e in evs if e["type"] == "command" and e.get("truncated")]
    check([e["tag"] for e in cut_cmd] == ["a004"],
          f"snaplen200: the APPEND cut by a gap is not a truncated command: {cut_cmd!r}")
    untouched = [e for e in evs if e["type"] in ("command", "response") and e.get("truncated")
                 and e["tag"] not in ("a001", "a004")]
    check(not untouched, f"snaplen200: whole lines marked truncated: {untouched!r}")
    check("[truncated]" in text("snaplen200.pcap"), "snaplen200: the text timeline does not mark cut lines")


def main():
    check_sync_literals("append.pcap", "a002", 1)
    check_sync_literals("append.pcap", "a004", 2)
    check_sync_literals("login-failures.pcap", "a007", 1)
    check_snaplen()
    if failures:
        print(f"test_lines: {len(failures)} failures")
        sys.exit(1)
    print("test_lines: literal sync, latency, continuation waits and cut lines ok")


if __name__ == "__main__":
    main()
