#!/usr/bin/env python3
"""Notices a user can act on (issue 14, item 8), on the project's captures:

- every notice that concerns a session is also an event of its timeline:
  `type: "notice"` with a stable `kind` in JSON, a NOTICE line in text;
- one notice per gap, and the cause first: the snap length's cut is named
  before the first gap it makes;
- no notice for normal events: retransmissions that differed in nothing are
  counted in the summary only; a deflate stream ended at logout is silent;
- notices of sessions that a filter left out are not printed."""
import json
import os
import subprocess
import sys

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO", ".")
CAP = os.path.join(REPO, "captures")
fails = 0


def fail(msg):
    global fails
    fails += 1
    print("FAIL: " + msg)


def run(*args):
    p = subprocess.run([IMAPSCOPE, "--color=never", *args], capture_output=True, timeout=120)
    if p.returncode != 0:
        fail("%s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def events(*args):
    out, err = run("-F", "json", *args)
    return [json.loads(line) for line in out.splitlines()], err


# --- snaplen200: the cause first, one notice per gap ----------------------
snap = os.path.join(CAP, "snaplen200.pcap")
evs, err = events(snap)
lines = [l for l in err.splitlines() if l.startswith("imapscope: session 1:")]
gap_events = [e for e in evs if e["type"] == "gap"]
notices = [e for e in evs if e["type"] == "notice"]
missing = [l for l in lines if "bytes missing" in l]
if len(missing) != len(gap_events):
    fail("snaplen200: %d gap lines on stderr for %d gaps" % (len(missing), len(gap_events)))
if any("partial line" in l for l in lines):
    fail("snaplen200: a gap is reported twice (partial line): %r" % lines)
for d in ("s2c", "c2s"):
    first_cut = next((i for i, l in enumerate(lines) if "snap length" in l and d in l), None)
    first_gap = next((i for i, l in enumerate(lines) if "bytes missing %s" % d in l), None)
    if first_cut is None or first_gap is None or first_cut > first_gap:
        fail("snaplen200 %s: the snap-length cause is not named before its first gap: %r" %
             (d, lines))
kinds = [e["kind"] for e in notices]
if "snaplen_cut" not in kinds:
    fail("snaplen200: no snaplen_cut notice event: %r" % kinds)
if "gap" in kinds:
    fail("snaplen200: gaps are notice events too (they are gap events already)")
idx = {id(e): i for i, e in enumerate(evs)}
cut = next((e for e in notices if e["kind"] == "snaplen_cut"), None) or {"text": ""}
if id(cut) not in idx or idx[id(cut)] > idx[id(gap_events[0])]:
    fail("snaplen200: the snaplen_cut event comes after the first gap event")
if cut.get("dir") not in ("c2s", "s2c") or "session 1:" in cut["text"]:
    fail("snaplen200: snaplen_cut event lacks its direction or repeats the session: %r" % cut)
for e in notices:
    if not e["kind"].replace("_", "").isalnum() or not e["text"]:
        fail("snaplen200: bad notice event %r" % e)
# as many notice events as session notices on stderr (gaps aside)
stderr_session = [l for l in lines if "bytes missing" not in l]
if len(stderr_session) != len(notices):
    fail("snaplen200: %d session notices on stderr, %d notice events" %
         (len(stderr_session), len(notices)))
text, _ = run(snap)
if text.count(" NOTICE ") != len(notices):
    fail("snaplen200: text timeline has %d NOTICE lines for %d notice events" %
         (text.count(" NOTICE "), len(notices)))
end = [e for e in evs if e["type"] == "session_end"][0]
if end["summary"]["notices"] != len(notices):
    fail("snaplen200: session_end counts %d notices, %d were events" %
         (end["summary"]["notices"], len(notices)))

# --- loss.pcap: identical retransmissions are counted, not noticed --------
loss = os.path.join(CAP, "loss.pcap")
evs, err = events(loss)
if "retransmitted" in err or any(e["type"] == "notice" and e["kind"] == "retransmission"
                                 for e in evs):
    fail("loss: a notice for retransmissions that differed in nothing: %r" % err)
end = [e for e in evs if e["type"] == "session_end"][0]
if not end["summary"].get("retransmitted_bytes"):
    fail("loss: session_end does not count the retransmitted bytes: %r" % end["summary"])
out, _ = run("--summary", "-F", "json", loss)
rows = [json.loads(l) for l in out.splitlines()]
if not all(r.get("retransmitted_bytes", 0) > 0 for r in rows):
    fail("loss: --summary lacks retransmitted_bytes: %r" % rows)

# --- COMPRESS: the deflate stream's end at logout is not a notice ---------
for name, extra in (("compress.pcap", []),
                    ("compress-tls.pcap", ["-k", os.path.join(CAP, "compress-tls.keylog")])):
    _, err = run(os.path.join(CAP, name), *extra)
    if err.strip():
        fail("%s: notices on a clean session: %r" % (name, err))

# --- filtered-out sessions keep their notices to themselves ---------------
two = os.path.join(CAP, "dual-stack.pcap")
_, err = run("--session", "1", snap, two)
if any(l.startswith("imapscope: session 2") or l.startswith("imapscope: session 3")
       for l in err.splitlines()):
    fail("--session 1: notices of other sessions printed: %r" % err)
_, err = run("--session", "2", snap, two)
if "session 1:" in err:
    fail("--session 2: notices of session 1 printed: %r" % err)

print("notices: %s" % ("0 failures" if fails == 0 else "%d failures" % fails))
sys.exit(1 if fails else 0)
