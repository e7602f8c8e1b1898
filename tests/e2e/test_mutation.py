#!/usr/bin/env python3
"""A mutation sweep over every capture: bit flips inside packets, files cut
at random points, and packets spliced in from another capture.  imapscope
must never die of a signal or hang; it exits 0 (damage is a notice) or 1
(the file is not readable at all), and its JSON stays valid.

Deterministic (fixed seed), so a failure reproduces; MUTATION_ROUNDS sets
how many mutants per capture (default 6)."""
import glob
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ["REPO"]
PUBLIC = os.environ["PUBLIC"]
ROUNDS = int(os.environ.get("MUTATION_ROUNDS", "6"))
TIMEOUT = 60        # seconds per run; generous for the sanitizer build
# Sanitizers exit 1 by default, which would pass for "unreadable input".
ENV = dict(os.environ, ASAN_OPTIONS="exitcode=86:" + os.environ.get("ASAN_OPTIONS", ""),
           UBSAN_OPTIONS="exitcode=87:" + os.environ.get("UBSAN_OPTIONS", ""))


def classic_records(data):
    """(offset, length) of each record of a classic pcap, or [] for pcapng."""
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return []
    out, off = [], 24
    while off + 16 <= len(data):
        caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
        if off + 16 + caplen > len(data):
            break
        out.append((off, 16 + caplen))
        off += 16 + caplen
    return out


def mutants(data, other, rng):
    recs = classic_records(data)
    for _ in range(ROUNDS):
        kind = rng.choice(["flip", "cut", "splice", "flip"])
        d = bytearray(data)
        if kind == "flip":
            for _ in range(rng.randint(1, 40)):
                i = rng.randrange(24 if len(d) > 24 else 0, len(d))
                d[i] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            d = d[:rng.randrange(len(d))]
        elif recs:
            # splice: packets of another capture inserted between records
            orecs = classic_records(other)
            if orecs:
                at = rng.choice(recs)[0]
                picks = [other[o:o + n] for o, n in rng.sample(orecs, min(5, len(orecs)))]
                d = d[:at] + b"".join(picks) + d[at:]
        yield kind, bytes(d)


def main():
    rng = random.Random(20261121)
    caps = sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*")))
    caps += sorted(glob.glob(os.path.join(REPO, "captures", "*.pcap*")))
    blobs = [open(c, "rb").read() for c in caps]
    runs = failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "mutant.pcap")
        for cap, data in zip(caps, blobs):
            other = rng.choice(blobs)
            for kind, d in mutants(data, other, rng):
                with open(path, "wb") as f:
                    f.write(d)
                runs += 1
                try:
                    r = subprocess.run([IMAPSCOPE, "-q", "-F", "json", path],
                                       capture_output=True, timeout=TIMEOUT, env=ENV)
                except subprocess.TimeoutExpired:
                    failures += 1
                    print("FAIL %s (%s): hang" % (os.path.basename(cap), kind))
                    continue
                err = r.stderr.decode(errors="replace")
                bad = (r.returncode not in (0, 1) or "runtime error" in err
                       or "Sanitizer" in err)
                try:
                    for line in r.stdout.decode("utf-8").splitlines():
                        json.loads(line)
                except (ValueError, UnicodeDecodeError) as e:
                    bad = True
                    print("  invalid JSON: %s" % e)
                if bad:
                    failures += 1
                    keep = os.path.join(REPO, "build", "mutant-%d.pcap" % runs)
                    os.makedirs(os.path.dirname(keep), exist_ok=True)
                    with open(keep, "wb") as f:
                        f.write(d)
                    print("FAIL %s (%s): exit %d, kept as %s\n%s" % (
                        os.path.basename(cap), kind, r.returncode, keep,
                        r.stderr.decode(errors="replace")[-600:]))
    print("mutation sweep: %d mutants of %d captures, %d failures" % (runs, len(caps), failures))
    return 1 if failures or runs < 100 else 0


if __name__ == "__main__":
    sys.exit(main())
