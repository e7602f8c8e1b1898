#!/usr/bin/env python3
"""Validate every JSON line imapscope writes against docs/events.schema.json.

For every capture under $PUBLIC and $REPO/captures (recursively, *.pcap and
*.pcapng; a FILE.keylog beside a capture is passed with -k so that decrypted
sessions are covered too), runs

    $IMAPSCOPE -F json FILE             every line: one of the schema's events
    $IMAPSCOPE --summary -F json FILE   session_summary lines, then exactly one
                                        capture_summary, last
    $IMAPSCOPE --logins -F json FILE    every line: #/$defs/login_row, then the
                                        roll-up: #/$defs/login_summary
    $IMAPSCOPE --activity -F json FILE  every line: activity or activity_summary
    $IMAPSCOPE --sessions -F json FILE  every line: #/$defs/session_row
    $IMAPSCOPE --follow N -F json FILE  every line: #/$defs/chunk (the first
                                        and the last session)

and validates each line with a real validator (python3-jsonschema, draft
2020-12).  Fails on any invalid line, on a run that crashes or exits other
than 0 (or 1, "input could not be read", which is reported), or when fewer
than MIN_EVENTS lines were validated in all.

    python3 test_schema.py                  the e2e test (env as run.sh sets)
    python3 test_schema.py --lines F [DEF]  validate the JSON Lines file F
                                            (against #/$defs/DEF if given)
"""
import json
import os
import subprocess
import sys

MIN_EVENTS = 100        # fewer validated lines means the test saw nothing
RUN_TIMEOUT_S = 300     # per imapscope run
MAX_REPORTED = 30       # invalid lines shown before the rest are counted

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REPO") or os.path.normpath(os.path.join(HERE, "..", ".."))
from public import public_dir, skip  # noqa: E402
PUBLIC = public_dir()
IMAPSCOPE = os.environ.get("IMAPSCOPE") or os.path.join(REPO, "imapscope")
SCHEMA_PATH = os.path.join(REPO, "docs", "events.schema.json")

try:
    import jsonschema
except ImportError:
    print("test_schema: python3-jsonschema is missing (apt-get install python3-jsonschema)",
          file=sys.stderr)
    sys.exit(1)


def load_validators():
    """The whole-stream validator and one per $defs entry used on its own.

    A sub-schema is validated as the root schema with its oneOf swapped for
    one $ref, so that references resolve the same way on every version of
    jsonschema (Debian 12 ships 4.10, newer ones use 'referencing')."""
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)

    def only(name):
        sub = dict(schema)
        sub["oneOf"] = [{"$ref": "#/$defs/" + name}]
        return cls(sub)

    return {"": cls(schema), "login_row": only("login_row"),
            "login_summary": only("login_summary"),
            "session_summary": only("session_summary"),
            "capture_summary": only("capture_summary"),
            "session_row": only("session_row"), "chunk": only("chunk")}


class Checker:
    def __init__(self, validators):
        self.v = validators
        self.validated = 0
        self.invalid = 0
        self.failures = []

    def fail(self, where, msg):
        self.invalid += 1
        if len(self.failures) < MAX_REPORTED:
            self.failures.append(f"{where}: {msg}")

    def line(self, where, text, defname=""):
        """Parse and validate one line; returns the object or None."""
        try:
            obj = json.loads(text)
        except ValueError as e:
            self.fail(where, f"not JSON ({e}): {text[:200]!r}")
            return None
        if not isinstance(obj, dict):
            self.fail(where, f"not an object: {text[:200]!r}")
            return None
        self.validated += 1
        v = self.v[defname]
        errors = list(v.iter_errors(obj))
        if errors:
            best = jsonschema.exceptions.best_match(errors)
            path = "/".join(str(p) for p in best.absolute_path)
            # A oneOf miss says little: name the branch its type selects.
            t = obj.get("type")
            if not defname and t in self.v[""].schema["$defs"]:
                sub = dict(self.v[""].schema)
                sub["oneOf"] = [{"$ref": "#/$defs/" + t}]
                e2 = jsonschema.exceptions.best_match(
                    jsonschema.Draft202012Validator(sub).iter_errors(obj))
                if e2 is not None:
                    best = e2
                    path = "/".join(str(p) for p in best.absolute_path)
            self.fail(where, f"type={t!r} at /{path}: {best.message[:300]}")
            return None
        return obj


def captures():
    found = []
    roots = [os.path.join(REPO, "captures")]
    if PUBLIC is None:
        skip("validating the public captures' output")
    else:
        roots.append(PUBLIC)
    for root in roots:
        for d, _, files in os.walk(root):
            for f in files:
                if f.endswith((".pcap", ".pcapng")):
                    found.append(os.path.join(d, f))
    return sorted(set(os.path.realpath(p) for p in found))


def keylog_for(cap):
    stem = cap.rsplit(".", 1)[0]
    k = stem + ".keylog"
    return ["-k", k] if os.path.isfile(k) else []


def run(args, where, ck):
    """Run imapscope; its stdout lines, or None if it failed or (exit 1)
    could not read the input."""
    try:
        p = subprocess.run([IMAPSCOPE] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        ck.fail(where, f"timed out after {RUN_TIMEOUT_S} s")
        return None
    if p.returncode == 1:
        print(f"  note: {where}: input not readable: "
              f"{p.stderr.decode(errors='replace').strip()[:200]}")
        return None
    if p.returncode != 0:
        ck.fail(where, f"exit {p.returncode}: {p.stderr.decode(errors='replace').strip()[:300]}")
        return None
    out = p.stdout.decode("utf-8", errors="strict")
    if out and not out.endswith("\n"):
        ck.fail(where, "output does not end with a newline")
    return out.splitlines()


def check_capture(cap, ck):
    name = os.path.relpath(cap, os.path.dirname(REPO))
    base = ["-q"] + keylog_for(cap)
    lines = run(base + ["-F", "json", cap], f"{name} -F json", ck) or []
    for i, text in enumerate(lines, 1):
        ck.line(f"{name} -F json line {i}", text)
    lines = run(base + ["--summary", "-F", "json", cap], f"{name} --summary", ck)
    if lines == []:
        # A readable capture gets a capture_summary even without sessions.
        ck.fail(f"{name} --summary", "no capture_summary line")
    for i, text in enumerate(lines or [], 1):
        want = "capture_summary" if i == len(lines) else "session_summary"
        ck.line(f"{name} --summary line {i}", text, want)
    lines = run(base + ["--logins", "-F", "json", cap], f"{name} --logins", ck) or []
    for i, text in enumerate(lines, 1):
        kind = "login_summary" if '"type":"login_summary"' in text else "login_row"
        ck.line(f"{name} --logins line {i}", text, kind)
    lines = run(base + ["--activity", "-F", "json", cap], f"{name} --activity", ck) or []
    for i, text in enumerate(lines, 1):
        ck.line(f"{name} --activity line {i}", text)
    lines = run(base + ["--sessions", "-F", "json", cap], f"{name} --sessions", ck) or []
    for i, text in enumerate(lines, 1):
        ck.line(f"{name} --sessions line {i}", text, "session_row")
    for n in sorted({1, len(lines)} - {0}):
        out = run(base + ["--follow", str(n), "-F", "json", cap], f"{name} --follow {n}", ck)
        for i, text in enumerate(out or [], 1):
            ck.line(f"{name} --follow {n} line {i}", text, "chunk")


def main_lines(path, defname):
    ck = Checker(load_validators())
    with open(path, encoding="utf-8") as f:
        for i, text in enumerate(f, 1):
            ck.line(f"{path} line {i}", text.rstrip("\n"), defname)
    for msg in ck.failures:
        print("INVALID " + msg)
    print(f"test_schema: {ck.validated} lines validated, {ck.invalid} invalid")
    return 1 if ck.invalid else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--lines":
        return main_lines(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    if not os.access(IMAPSCOPE, os.X_OK):
        print(f"test_schema: no binary at {IMAPSCOPE}", file=sys.stderr)
        return 1
    ck = Checker(load_validators())
    caps = captures()
    for cap in caps:
        check_capture(cap, ck)
    for msg in ck.failures:
        print("INVALID " + msg)
    if ck.invalid > len(ck.failures):
        print(f"... and {ck.invalid - len(ck.failures)} more")
    print(f"test_schema: {len(caps)} captures, {ck.validated} lines validated, "
          f"{ck.invalid} failures")
    if ck.validated < MIN_EVENTS:
        print(f"test_schema: fewer than {MIN_EVENTS} lines validated")
        return 1
    return 1 if ck.invalid else 0


if __name__ == "__main__":
    sys.exit(main())
