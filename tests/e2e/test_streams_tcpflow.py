#!/usr/bin/env python3
"""--streams must equal tcpflow's reassembly byte for byte wherever the
capture lost nothing (imapscope's index lists no gap for the stream).

Runs on every capture committed under captures/ and, when $PUBLIC holds
them, every public capture.  Fails on any differing stream, and if fewer
streams than expected could be compared at all."""
import glob
import ipaddress
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
MIN_COMPARED = 20          # streams; the public corpus alone gives more


def tcpflow_name(endpoint_from, endpoint_to):
    """tcpflow's file name for the bytes sent from one endpoint to another."""
    def part(ep):
        host, port = ep.rsplit(":", 1)
        host = host.strip("[]")
        addr = ipaddress.ip_address(host)
        if addr.version == 4:
            host = ".".join("%03d" % int(o) for o in host.split("."))
        return "%s.%05d" % (host, int(port))
    return part(endpoint_from) + "-" + part(endpoint_to)


def captures():
    files = []
    if PUBLIC is None:
        skip("--streams against tcpflow on the public captures")
    else:
        files = sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*")))
    files += sorted(glob.glob(os.path.join(REPO, "captures", "**", "*.pcap*"),
                              recursive=True))
    return files


def main():
    if shutil.which("tcpflow") is None:
        print("tcpflow is not installed (apt-get install tcpflow)")
        return 1
    compared = differing = skipped = padded = 0
    for cap in captures():
        with tempfile.TemporaryDirectory() as tmp:
            sdir = os.path.join(tmp, "streams")
            tdir = os.path.join(tmp, "tcpflow")
            os.mkdir(tdir)
            events = os.path.join(tmp, "events.json")
            r = subprocess.run([IMAPSCOPE, "-q", "-F", "json", "-o", events,
                                "--streams", sdir, cap], capture_output=True)
            if r.returncode != 0:
                print("FAIL %s: imapscope exited %d: %s" % (cap, r.returncode,
                      r.stderr.decode(errors="replace").strip()))
                differing += 1
                continue
            t = subprocess.run(["tcpflow", "-r", cap, "-o", tdir],
                               capture_output=True)
            if t.returncode != 0:    # e.g. Linux cooked v2, unknown to it
                print("skip %s: tcpflow cannot read it" % os.path.basename(cap))
                continue
            with open(os.path.join(sdir, "index.jsonl")) as f:
                index = [json.loads(line) for line in f]
            names = [(s["client"], s["server"]) for s in index]
            # a session that turned to TLS or DEFLATE writes the decoded
            # bytes (or none), which tcpflow cannot know
            encoded = set()
            with open(events) as f:
                for line in f:
                    ev = json.loads(line)
                    if ev["type"] in ("tls", "compress"):
                        encoded.add(ev["session"])
            for s in index:
                for d, a, b in (("c2s", s["client"], s["server"]),
                                ("s2c", s["server"], s["client"])):
                    st = s[d]
                    tf = os.path.join(tdir, tcpflow_name(a, b))
                    # a reused 4-tuple gets suffixed names in tcpflow; lossy
                    # streams differ by design (tcpflow zero-fills holes)
                    if (st["gaps"] or s["session"] in encoded or
                            names.count((s["client"], s["server"])) > 1):
                        skipped += 1
                        continue
                    ours = open(os.path.join(sdir, st["file"]), "rb").read()
                    theirs = open(tf, "rb").read() if os.path.exists(tf) else b""
                    compared += 1
                    # tcpflow writes the Ethernet padding of short frames
                    # (FIN/ACK) as if it were data; we trim by IP length
                    tail = theirs[len(ours):]
                    if (theirs.startswith(ours) and 0 < len(tail) <= 24
                            and tail.count(0) == len(tail)):
                        padded += 1
                        continue
                    if ours != theirs:
                        differing += 1
                        print("DIFF %s session %d %s: imapscope %d bytes, tcpflow %d"
                              % (os.path.basename(cap), s["session"], d,
                                 len(ours), len(theirs)))
    print("streams compared with tcpflow: %d, differing: %d (equal but for "
          "tcpflow's Ethernet padding: %d), skipped (gaps, TLS/DEFLATE, reused "
          "tuples): %d" % (compared, differing, padded, skipped))
    if compared < MIN_COMPARED:
        print("FAIL: only %d streams compared (expected at least %d)"
              % (compared, MIN_COMPARED))
        return 1
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
