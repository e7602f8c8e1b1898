#!/usr/bin/env python3
"""--extract on the capture corpus.

Each extracted body is checked against the --streams output of the same run:
a complete body must stand in its direction's stream verbatim, right after
its literal marker; a truncated one (the streams leave holes out too) must
still be found there.  The index's sha256 must match the file, the same
content must be stored once, a refused APPEND must write nothing, and cut
bodies must be marked truncated.  Env: IMAPSCOPE (binary), REPO (root)."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

IMAPSCOPE = os.environ.get("IMAPSCOPE", "./imapscope")
REPO = os.environ.get("REPO", ".")
CAPS = os.path.join(REPO, "captures")
SAFE = re.compile(r"^[0-9a-f]{64}(\.[A-Za-z0-9._\-\[\]<>]+)?(\.truncated)?\.(eml|part)$")
failures = []
tmpdirs = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(capture, *extra):
    tmp = tempfile.mkdtemp(prefix="imapscope-extract-")
    tmpdirs.append(tmp)
    ex, st = os.path.join(tmp, "ex"), os.path.join(tmp, "st")
    truth = os.path.join(CAPS, capture.rsplit(".", 1)[0] + ".truth.json")
    args = [IMAPSCOPE, "-q", "--extract", ex, "--streams", st, *extra]
    if os.path.exists(truth):
        t = json.load(open(truth))
        if t.get("keylog"):
            args += ["-k", os.path.join(CAPS, t["keylog"])]
        for p in t.get("extra_ports", []):
            args += ["-p", p]
    r = subprocess.run(args + [os.path.join(CAPS, capture)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    check(r.returncode == 0, f"{capture}: exit {r.returncode}: {r.stderr[-300:]!r}")
    with open(os.path.join(ex, "index.jsonl")) as f:
        items = [json.loads(line) for line in f]
    return ex, st, items


def stream(st, session, direction):
    path = os.path.join(st, f"session-{session:06d}-{direction}.bin")
    return open(path, "rb").read() if os.path.exists(path) else b""


def verify(capture, *extra):
    """The checks every capture gets; returns the index lines."""
    ex, st, items = run(capture, *extra)
    names = set()
    for it in items:
        name = it["file"]
        check(SAFE.match(name) is not None, f"{capture}: unsafe name {name!r}")
        data = open(os.path.join(ex, name), "rb").read()
        check(hashlib.sha256(data).hexdigest() == it["sha256"], f"{capture}: sha256 of {name}")
        check(name.startswith(it["sha256"]), f"{capture}: {name} not named by content")
        check(len(data) == it["size"], f"{capture}: size of {name}")
        check(it["complete"] != it["truncated"], f"{capture}: complete/truncated")
        whole = it["section"] is None or it["section"].upper() in (
            "BODY[]", "BODY.PEEK[]", "BINARY[]", "RFC822")
        check(name.endswith(".eml") == whole, f"{capture}: {name} for {it['section']}")
        d = "s2c" if it["direction"] == "fetched" else "c2s"
        s = stream(st, it["session"], d)
        if it["complete"]:
            check(len(data) == it["announced"], f"{capture}: complete {name} is short")
            marker = re.compile(rb"~?\{%d[+-]?\}\r?\n" % it["announced"])
            hit = any(s[m.end():m.end() + len(data)] == data for m in marker.finditer(s))
            check(hit, f"{capture}: {name} is not the literal's bytes in the {d} stream")
        else:
            check(data in s, f"{capture}: truncated {name} not in the {d} stream")
        names.add(name)
    files = [n for n in os.listdir(ex) if n != "index.jsonl"]
    check(sorted(files) == sorted(names), f"{capture}: files {len(files)} != named {len(names)}")
    check(not any(n.startswith(".") for n in files), f"{capture}: temporary file left")
    return items


def main():
    for cap in sorted(os.listdir(CAPS)):
        if cap.endswith((".pcap", ".pcapng")):
            verify(cap)

    # fetch-large: the ~200 KB literal whole, with UID, user and mailbox
    items = verify("fetch-large.pcap")
    check(len(items) == 1 and items[0]["size"] > 200000 and items[0]["complete"],
          "fetch-large: one complete ~200 KB body")
    check(items and items[0]["uid"] == 1 and items[0]["user"] == "alice"
          and items[0]["mailbox"] == "Big", f"fetch-large: index fields {items}")
    big = items[0]["sha256"] if items else None

    # the same session cut: truncated, and no longer the same content
    for cap in ("segments-removed.pcap", "cut-end-in-literal.pcap"):
        items = verify(cap)
        check(len(items) == 1 and items[0]["truncated"] and items[0]["missing"] > 0,
              f"{cap}: one truncated body")
        check(items and items[0]["sha256"] != big and ".truncated." in items[0]["file"],
              f"{cap}: named as truncated")
    items = verify("segments-removed.pcap")
    check(items and len(items[0]["holes"]) >= 1, "segments-removed: holes listed")

    # APPEND: sync, LITERAL+, MULTIAPPEND (3), refused sync (nothing),
    # refused LITERAL+ (sent, so written), refused {0} (nothing)
    items = verify("append.pcap")
    check(all(i["direction"] == "appended" for i in items), "append: all appended")
    check(len(items) == 6, f"append: 6 bodies, got {len(items)}")
    boxes = [i["mailbox"] for i in items]
    check(boxes.count("NoSuchBox") == 1, f"append: one NoSuchBox body (LITERAL+), {boxes}")
    check(boxes.count("Archive") == 3, f"append: MULTIAPPEND's three, {boxes}")
    check(all(i["size"] > 0 for i in items), "append: the refused {0} wrote nothing")
    shas = [i["sha256"] for i in items]
    check(len(set(shas)) == 3 and sum(i["duplicate"] for i in items) == 3,
          "append: the 198-byte message stored once, indexed four times")

    # commands: whole messages and parts; a body fetched twice is one file
    items = verify("commands.pcap")
    whole = [i for i in items if i["file"].endswith(".eml")]
    check(len(whole) == 6 and all(i["uid"] for i in whole), "commands: six whole with UID")
    check(any(".BODY[HEADER.FIELDS_SUBJECT_FROM]." in i["file"] for i in items),
          "commands: HEADER.FIELDS part named for its section")
    check(any("<0>" in i["file"] for i in items), "commands: a <0> range part")

    # dedup across a session: loss.pcap fetches INBOX more than once
    items = verify("loss.pcap")
    check(sum(i["duplicate"] for i in items) > 0, "loss: repeated fetches deduplicated")

    # decrypted and inflated bodies are bodies too
    for cap in ("compress.pcap", "compress-tls.pcap", "starttls13.pcap", "imaplib-tls.pcap"):
        check(len(verify(cap)) > 0, f"{cap}: bodies extracted")

    # --session filters extraction like every output
    _, _, items = run("dual-stack.pcap", "--session", "2")
    check(items and all(i["session"] == 2 for i in items), "dual-stack: --session 2 only")

    # a directory that cannot be made is bad usage
    r = subprocess.run([IMAPSCOPE, "--extract", "/proc/nonexistent/x",
                        os.path.join(CAPS, "demo.pcap")], capture_output=True)
    check(r.returncode == 2 and r.stderr.startswith(b"imapscope: "), "bad DIR exits 2")

    print("extract:", "all checks passed" if not failures else f"{len(failures)} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        status = main()
    finally:
        for d in tmpdirs:
            shutil.rmtree(d, ignore_errors=True)
    sys.exit(status)
