#!/usr/bin/env python3
"""--follow N on real captures:

- no secret (LOGIN password, AUTHENTICATE initial response, client SASL
  line: what -F json --show-secrets shows of them) of any session of any
  capture appears in --follow's text or JSON without --show-secrets, and
  with it they do (so the search can find them);
- with --show-secrets and every literal shown, the JSON chunks of each side
  put together are the bytes --streams writes (after TLS and COMPRESS),
  their offsets run on without a hole but the gaps, in arrival order;
- literals past --max-follow-literal become a size, gaps are marked, TLS
  without keys says so, colour goes by side, an unknown session shows
  nothing."""
import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from public import public_dir, skip

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ["REPO"]
PUBLIC = public_dir()
CAPS = os.path.join(REPO, "captures")
ALL = "1G"      # --max-follow-literal that shows every literal
errors = []


def fail(msg):
    errors.append(msg)


def captures():
    files = sorted(glob.glob(os.path.join(CAPS, "*.pcap*")))
    if PUBLIC is None:
        skip("--follow on the public captures")
    else:
        files += sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*")))
    return files


def keys(cap):
    k = os.path.splitext(cap)[0] + ".keylog"
    return ["-k", k] if os.path.exists(k) else []


def run(*args):
    r = subprocess.run([IMAPSCOPE, "-q", *args], capture_output=True)
    if r.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()[:200]))
    return r.stdout


def jsonl(out):
    return [json.loads(line) for line in out.decode().splitlines()]


def chunk_bytes(c):
    if "text" in c:
        return c["text"].encode("utf-8")
    if "base64" in c:
        return base64.b64decode(c["base64"])
    return b""


def secrets_of(events):
    """Per session, the secrets as the wire carried them (and decoded)."""
    per = {}
    for e in events:
        got = per.setdefault(e["session"], set())
        if e["type"] == "login" and e.get("secret"):
            got.add(e["secret"])
        elif e["type"] == "continuation" and e["dir"] == "c2s" and e["kind"] == "sasl":
            if e["text"] not in ("", "*", "="):
                got.add(e["text"])
            if e.get("decoded") and e["decoded"].get("secret"):
                got.add(e["decoded"]["secret"])
        elif e["type"] == "command" and e["command"] == "AUTHENTICATE":
            parts = e["args"].split(" ")
            if len(parts) > 1 and parts[1] != "=":
                got.add(parts[1])
    # Short ones ("a", "1") would be found anywhere; none of ours is.
    return {s: {x for x in v if len(x) >= 4} for s, v in per.items()}


def check_secrets(cap):
    k = keys(cap)
    events = jsonl(run("-F", "json", "--show-secrets", *k, cap))
    found = 0
    for sess, secrets in secrets_of(events).items():
        if not secrets:
            continue
        text = run("--follow", str(sess), "--max-follow-literal", ALL, *k, cap).decode("utf-8")
        js = jsonl(run("--follow", str(sess), "--max-follow-literal", ALL, "-F", "json", *k, cap))
        raw = b"".join(chunk_bytes(c) for c in js)
        shown = b"".join(chunk_bytes(c) for c in jsonl(run(
            "--follow", str(sess), "--show-secrets", "--max-follow-literal", ALL, "-F", "json",
            *k, cap)))
        for s in secrets:
            w = "%s session %d" % (os.path.basename(cap), sess)
            if s in text or s.encode() in raw:
                fail("%s: secret %r in --follow output" % (w, s))
            # a secret decoded from SASL is not on the wire as such
            found += s.encode() in shown
        if "***" not in text or not any(c.get("redacted") for c in js):
            fail("%s session %d: nothing redacted" % (os.path.basename(cap), sess))
    return found


def check_streams(cap, tmp):
    """--follow --show-secrets -F json, put together, is --streams."""
    k = keys(cap)
    d = os.path.join(tmp, "st")
    shutil.rmtree(d, ignore_errors=True)
    run("--streams", d, *k, cap)
    index = [json.loads(line) for line in open(os.path.join(d, "index.jsonl"))]
    for ent in index:
        sess = ent["session"]
        js = jsonl(run("--follow", str(sess), "--show-secrets", "--max-follow-literal", ALL,
                       "-F", "json", *k, cap))
        w = "%s session %d" % (os.path.basename(cap), sess)
        for side in ("c2s", "s2c"):
            chunks = [c for c in js if c["dir"] == side]
            off = 0
            for c in chunks:
                if c["offset"] != off:
                    fail("%s %s: chunk at %d, expected %d" % (w, side, c["offset"], off))
                off = c["offset"] + c["bytes"]
                if "omitted" not in c and len(chunk_bytes(c)) != c["bytes"]:
                    fail("%s %s: chunk of %d bytes says %d" % (w, side, len(chunk_bytes(c)),
                                                               c["bytes"]))
            got = b"".join(chunk_bytes(c) for c in chunks)
            with open(os.path.join(d, ent[side]["file"]), "rb") as f:
                want = f.read()
            if got != want:
                fail("%s %s: %d bytes followed, --streams has %d" % (w, side, len(got), len(want)))
        ts = [c["ts"] for c in js]
        if ts != sorted(ts):
            fail("%s: chunks out of time order" % w)


def check_views():
    ctls = os.path.join(CAPS, "compress-tls.pcap")
    k = keys(ctls)
    text = run("--follow", "1", "--max-follow-literal", "100", *k, ctls).decode()
    for want in ("== TLS 1.3 (implicit), decrypted", "== COMPRESS DEFLATE: inflated from here",
                 "C: a003 SELECT INBOX", "S! [literal of 458 bytes not shown (over 100)]",
                 "S+ )", "C: a001 LOGIN alice ***", "== end (rst)"):
        if want not in text:
            fail("compress-tls --follow: no %r in\n%s" % (want, text[:2000]))
    js = jsonl(run("--follow", "1", "--max-follow-literal", "100", "-F", "json", *k, ctls))
    lits = [c for c in js if c.get("omitted") == "literal"]
    if not lits or lits[0]["bytes"] != 458 or lits[0]["dir"] != "s2c":
        fail("compress-tls: literal chunks %r" % lits[:2])
    text = run("--follow", "1", ctls).decode()
    if "not decrypted" not in text or "SELECT" in text:
        fail("compress-tls without keys: %r" % text[:500])
    gaps = os.path.join(CAPS, "segments-removed.pcap")
    text = run("--follow", "1", gaps).decode()
    if "S! [4344 bytes lost at offset 102307]" not in text:
        fail("segments-removed: no gap in %r" % text[:1500])
    js = jsonl(run("--follow", "1", "-F", "json", gaps))
    g = [c for c in js if c.get("omitted") == "gap"]
    if len(g) != 1 or g[0]["bytes"] != 4344 or g[0]["offset"] != 102307:
        fail("segments-removed: gap chunks %r" % g)
    lf = os.path.join(CAPS, "login-failures.pcap")
    text = run("--follow", "1", "--color", "always", lf).decode()
    if "\x1b[36mC: a001 LOGIN alice ***\x1b[0m\n" not in text or "\x1b[32mS: " not in text:
        fail("--color always: %r" % text[:400])
    r = subprocess.run([IMAPSCOPE, "--follow", "99", lf], capture_output=True)
    if r.returncode != 0 or r.stdout or b"matched no session" not in r.stderr:
        fail("--follow 99: exit %d, %r, %r" % (r.returncode, r.stdout[:100], r.stderr))
    for args in (["--follow", "x"], ["--follow", "0"], ["--max-follow-literal", "5"],
                 ["--session", "2", "--follow", "1"]):
        r = subprocess.run([IMAPSCOPE, *args, lf], capture_output=True)
        if r.returncode != 2 or len(r.stderr.decode().splitlines()) != 1:
            fail("%s: exit %d, %r" % (args, r.returncode, r.stderr))


def main():
    tmp = tempfile.mkdtemp(prefix="imapscope-follow-")
    found = 0
    try:
        for cap in captures():
            found += check_secrets(cap)
        for cap in sorted(glob.glob(os.path.join(CAPS, "*.pcap"))):
            check_streams(cap, tmp)
        check_views()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for e in errors[:40]:
        print("FAIL: " + e)
    print("test_follow: %d secrets checked, %d failures" % (found, len(errors)))
    if found < 10:
        print("test_follow: too few secrets found to prove anything")
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
