#!/usr/bin/env python3
"""The run's wiring (issue 16 item 5), end to end.

- --help takes its defaults from the named constants: each number the help
  quotes is the value of its #define (read from the headers here), so a
  constant changed without the help, or a help number typed in again,
  fails.
- The session filter is decided once, when a session opens: a hidden
  session's notices are not printed and make no event, a shown one's are
  printed once as "imapscope: session N: ..." and are one notice event.

Env: IMAPSCOPE (binary), REPO (root), PUBLIC (third-party captures)."""
import json
import os
import re
import subprocess
import sys

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO", os.path.join(os.path.dirname(__file__), "..", ".."))
PUBLIC = os.environ.get("PUBLIC", os.path.join(REPO, "..", "shared", "captures", "public"))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def define(header, name):
    """The value of a numeric #define: N, (N << K), (Nu << K), (N * M)."""
    text = open(os.path.join(REPO, "include", header)).read()
    m = re.search(r"^#define\s+%s\s+(.+?)(?:\s*/\*.*)?$" % name, text, re.M)
    if m is None:
        raise SystemExit("test_wiring: %s not in %s" % (name, header))
    expr = re.sub(r"\(size_t\)|\(uint64_t\)|(?<=\d)(?:ull|ULL|u|LL)\b", "", m.group(1))
    return int(eval(expr, {"__builtins__": {}}))  # a constant expression of the source


def test_help():
    out = subprocess.run([IMAPSCOPE, "--help"], capture_output=True, text=True).stdout
    want = {
        "--max-flows": define("net/flow.h", "FLOW_DEFAULT_MAX_FLOWS"),
        "--max-literal-memory": define("imap/imap_lexer.h", "IMAP_DEFAULT_LITERAL_KEEP"),
        "--max-ooo-bytes": define("net/flow.h", "FLOW_DEFAULT_MAX_OOO_BYTES"),
        "--max-memory": define("app/run.h", "RUN_DEFAULT_MAX_MEMORY"),
        "--max-inflate": define("imap/inflate.h", "INFLATE_DEFAULT_MAX_TOTAL"),
        "--fail-threshold": define("report/logins.h", "LOGINS_FAIL_THRESHOLD_DEFAULT"),
        "--fail-window": define("report/logins.h", "LOGINS_WINDOW_US_DEFAULT") // 1000000,
    }
    for opt, value in want.items():
        # the option's help runs to the next option line
        m = re.search(r"^\s+(?:-\w, )?%s\b(.*?)(?=^\s+-)" % re.escape(opt), out, re.M | re.S)
        text = " ".join(m.group(1).split()) if m is not None else ""
        check(re.search(r"\(default %d\b" % value, text) is not None,
              "--help: %s says its default is %d" % (opt, value))
    ratio = define("imap/inflate.h", "INFLATE_GUARD_RATIO")
    check("past %d:1" % ratio in out, "--help: the inflate ratio guard is %d:1" % ratio)


def run(args):
    p = subprocess.run([IMAPSCOPE, "--color=never"] + args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def test_filter_notices():
    cap = os.path.join(PUBLIC, "arkime-arkime_synthetic.pcap")
    if not os.path.exists(cap):
        print("skip: %s is absent" % cap)
        return
    rc, out, err = run(["-F", "json", cap])
    check(rc == 0, "two sessions: exit 0")
    notice1 = [l for l in err.splitlines() if l.startswith("imapscope: session 1: ")]
    check(len(notice1) == 1, "session 1 has one notice on stderr: %r" % err)
    events = [json.loads(l) for l in out.splitlines()]
    check(sum(1 for e in events if e["type"] == "notice" and e["session"] == 1) == 1,
          "session 1's notice is one event")
    rc, out, err = run(["-F", "json", "--session", "2", cap])
    events = [json.loads(l) for l in out.splitlines()]
    check(rc == 0 and events and all(e["session"] == 2 for e in events),
          "--session 2: only session 2's events")
    check("session 1:" not in err, "--session 2: session 1's notice is not printed: %r" % err)
    rc, out, err = run(["-F", "json", "--session", "1", cap])
    check(err.count("imapscope: session 1: ") == 1, "--session 1: its notice, once")


test_help()
test_filter_notices()
if failures:
    print("test_wiring: %d failures" % len(failures))
    sys.exit(1)
print("test_wiring: ok")
