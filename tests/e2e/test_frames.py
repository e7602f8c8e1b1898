#!/usr/bin/env python3
"""Frame numbers (frame, frame_last, pcap; --frames) against tshark.

For every tagged command and response, tshark names the frame of the IMAP
PDU: the last segment of what it reassembled (a TLS record's plaintext:
the frame that completed the record).  That must be our frame_last (our
frame where there is none); a command with literals is the exception,
since tshark shows its first line alone: its frame is ours.  For plain
lines that tshark reassembled from several segments, the first of
tcp.segments must be our frame.  Then: records a BPF filter refuses are
still counted, pcapng's non-packet blocks are not, two inputs number per
file and name it, and --frames prints the same numbers."""
import json
import os
import subprocess
import sys

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


def events(args):
    r = subprocess.run([IMAPSCOPE, "-q", "-F", "json"] + args, capture_output=True, check=True)
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


def tshark_pdus(cap, keylog):
    """(dir, client port, tag) -> [(frame, first segment or None)]."""
    args = ["tshark", "-r", cap]
    if keylog:
        args += ["-o", "tls.keylog_file:" + keylog]
    args += ["-Y", "imap.request_tag or imap.response_tag", "-T", "json",
             "-e", "frame.number", "-e", "imap.request_tag", "-e", "imap.response_tag",
             "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.segments", "-e", "tls.record"]
    r = subprocess.run(args, capture_output=True, check=True)
    out = {}
    for pkt in json.loads(r.stdout.decode("utf-8", "replace") or "[]"):
        f = pkt["_source"]["layers"]
        num = int(f["frame.number"][0])
        segs = [int(s) for s in f.get("tcp.segments", [])]
        first = min(segs) if segs and "tls.record" not in f else None
        for tag in f.get("imap.request_tag", []):
            out.setdefault(("c", int(f["tcp.srcport"][0]), tag), []).append((num, first))
        for tag in f.get("imap.response_tag", []):
            out.setdefault(("s", int(f["tcp.dstport"][0]), tag), []).append((num, first))
    return out


def client_port(ev):
    return int(ev["client"].rsplit(":", 1)[1])


def compare(cap, keylog=None, min_matched=4):
    name = os.path.basename(cap)
    evs = events((["-k", keylog] if keylog else []) + [cap])
    ports = {e["session"]: client_port(e) for e in evs if e["type"] == "session_start"}
    ts = tshark_pdus(cap, keylog)
    matched = 0
    for e in evs:
        check("frame" in e and e["frame"] >= 1, "%s: %s without a frame" % (name, e["type"]))
        if "frame_last" in e:
            check(e["frame_last"] > e["frame"], "%s: frame_last not after frame: %r" % (name, e))
        check("pcap" not in e, "%s: pcap key with one input" % name)
        if e["type"] not in ("command", "response") or e.get("truncated"):
            continue
        key = ("c" if e["type"] == "command" else "s", ports[e["session"]], e["tag"])
        if key not in ts:
            continue        # tshark could not read it (after COMPRESS, a gap)
        theirs = [n for n, _ in ts[key]]
        literal = e["type"] == "command" and e["literal_bytes"] > 0
        want = e["frame"] if literal else e.get("frame_last", e["frame"])
        check(want in theirs, "%s: %s %s: ours %s-%s, tshark %s" %
              (name, e["type"], e["tag"], e["frame"], e.get("frame_last"), theirs))
        firsts = [s for n, s in ts[key] if n == want and s is not None]
        if firsts and not literal and "frame_last" in e:
            check(e["frame"] in firsts, "%s: %s %s: first segment %s, ours %s" %
                  (name, e["type"], e["tag"], firsts, e["frame"]))
        matched += 1
    check(matched >= min_matched, "%s: only %d events compared with tshark" % (name, matched))
    print("ok: %s: %d commands and responses on tshark's frames" % (name, matched))
    return evs


def spans(evs):
    return [(e["type"], e.get("tag"), e["frame"], e.get("frame_last")) for e in evs]


def test_tshark():
    for c in ["commands", "append", "fetch-large", "idle", "loss", "segments-removed",
              "auth-mechanisms", "mbsync"]:
        compare(os.path.join(CAP, c + ".pcap"))
    for c in ["starttls12", "starttls13", "implicit-ecdhe", "imaplib-tls", "curl",
              "compress-tls"]:
        compare(os.path.join(CAP, c + ".pcap"), os.path.join(CAP, c + ".keylog"))
    compare(os.path.join(CAP, "compress.pcap"), min_matched=2)  # tshark stops at COMPRESS
    compare(os.path.join(CAP, "formats-dumpcap.pcapng"), min_matched=2)
    if PUBLIC is None:
        skip("frames against tshark on the public captures")
        return
    compare(os.path.join(PUBLIC, "lekensteyn-imap-ssl.pcapng"),
            os.path.join(PUBLIC, "lekensteyn-imap-ssl.keylog"))
    compare(os.path.join(PUBLIC, "arkime-imap.pcap"))


def test_gap():
    """A gap names the record that made it certain: here the client's ACK
    past the hole (relative sequence numbers are stream offsets + 1)."""
    cap = os.path.join(CAP, "segments-removed.pcap")
    gaps = [e for e in events([cap]) if e["type"] == "gap"]
    r = subprocess.run(["tshark", "-r", cap, "-Y", "tcp.dstport == 143", "-T", "fields",
                        "-e", "frame.number", "-e", "tcp.ack"], capture_output=True, check=True)
    acks = [tuple(int(x) for x in l.split()) for l in r.stdout.decode().splitlines()
            if len(l.split()) == 2]
    check(len(gaps) == 1 and gaps[0]["dir"] == "s2c", "segments-removed.pcap: %r" % gaps)
    if gaps:
        end = gaps[0]["offset"] + gaps[0]["bytes"] + 1
        want = min(n for n, a in acks if a >= end)
        check(gaps[0]["frame"] == want, "gap frame %d, the ACK past it is %d"
              % (gaps[0]["frame"], want))


def test_filter_counts_every_record():
    cap = os.path.join(CAP, "commands.pcap")
    whole = [x for x in spans(events([cap])) if x[0] == "command"]
    # only the client's packets pass: the server's still count
    part = [x for x in spans(events([cap, "dst port 143"])) if x[0] == "command"]
    check(whole and [x[2] for x in part] == [x[2] for x in whole],
          "a BPF filter changed the command frames: %r vs %r" % (part[:3], whole[:3]))


def test_session_bounds():
    cap = os.path.join(CAP, "commands.pcap")
    evs = events([cap])
    # the FIN that ended it (the last ACK comes after the session)
    n = int(subprocess.run(["tshark", "-r", cap, "-Y", "tcp.flags.fin == 1", "-T", "fields",
                            "-e", "frame.number"], capture_output=True, check=True).stdout.split()[-1])
    start = [e for e in evs if e["type"] == "session_start"]
    end = [e for e in evs if e["type"] == "session_end"]
    check(start and start[0]["frame"] == 1, "commands.pcap: session_start not frame 1")
    check(end and end[-1]["frame"] == n, "commands.pcap: session_end not the last FIN %d: %r"
          % (n, end[-1:]))


def test_two_inputs():
    a, b = os.path.join(CAP, "append.pcap"), os.path.join(CAP, "loss.pcap")
    both = events([a, b])
    check(all(e.get("pcap") in (a, b) for e in both), "two inputs: an event without pcap")
    for path in (a, b):
        alone = [x for x in spans(events([path])) if x[0] in ("command", "response")]
        mine = [x for x in spans(e for e in both if e.get("pcap") == path)
                if x[0] in ("command", "response")]
        check(alone and mine == alone, "two inputs: %s numbered unlike alone" % path)
    print("ok: two inputs number per file and name it")
    single = events([a])
    check(all("pcap" not in e for e in single), "one input: a pcap key")


def test_text():
    cap = os.path.join(CAP, "append.pcap")
    evs = events([cap])
    r = subprocess.run([IMAPSCOPE, "-q", "--frames", "--color", "never", cap],
                       capture_output=True, check=True)
    lines = [l for l in r.stdout.decode().splitlines() if not l.startswith("---")]
    check(len(lines) == len(evs), "--frames: %d lines for %d events" % (len(lines), len(evs)))
    for line, e in zip(lines, evs):
        want = "[f%d-f%d]" % (e["frame"], e["frame_last"]) if "frame_last" in e \
            else "[f%d]" % e["frame"]
        check(line.split(" ")[2] == want, "--frames: %r for %s" % (line, want))
    plain = subprocess.run([IMAPSCOPE, "-q", "--color", "never", cap],
                           capture_output=True, check=True).stdout.decode()
    check("[f" not in plain, "frames shown without --frames")
    print("ok: --frames")


for t in [test_tshark, test_gap, test_filter_counts_every_record, test_session_bounds,
          test_two_inputs, test_text]:
    t()
if failures:
    print("%d failures" % len(failures))
    sys.exit(1)
