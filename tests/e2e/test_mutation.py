#!/usr/bin/env python3
"""A mutation sweep over every capture: bit flips inside packets, files cut
at random points, and packets spliced in from another capture.  imapscope
must never die of a signal or hang; it exits 0 (damage is a notice) or 1
(the file is not readable at all), its JSON stays valid and its text holds
no raw control byte.  The mutants take turns through the outputs: the
timeline, --summary and --logins, each as JSON and as text, and --extract.

Deterministic (fixed seed), so a failure reproduces; MUTATION_ROUNDS sets
how many mutants per capture (default 6), MUTATION_SEED another sweep."""
import glob
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

from public import public_dir, skip

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ["REPO"]
PUBLIC = public_dir()
ROUNDS = int(os.environ.get("MUTATION_ROUNDS", "6"))
SEED = int(os.environ.get("MUTATION_SEED", "20261121"))
# (arguments, JSON?) in turn; "{x}" is an --extract directory
MODES = [(["-F", "json"], True), ([], False),
         (["-F", "json", "--summary"], True), (["--summary"], False),
         (["-F", "json", "--logins"], True), (["--logins"], False),
         (["-F", "json", "--extract", "{x}"], True)]
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


def output_fault(out, json_lines):
    """What is wrong with a run's standard output, or None."""
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        return "invalid UTF-8: %s" % e
    if not json_lines:
        bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or ord(c) == 0x7f]
        return "raw control byte %r in text" % bad[0] if bad else None
    try:
        for line in text.splitlines():
            json.loads(line)
    except ValueError as e:
        return "invalid JSON: %s" % e
    return None


def main():
    rng = random.Random(SEED)
    caps = []
    if PUBLIC is None:
        skip("mutants of the public captures")
    else:
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
                margs, json_lines = MODES[runs % len(MODES)]
                xdir = os.path.join(tmp, "extract-%d" % runs)
                args = [a.replace("{x}", xdir) for a in margs]
                try:
                    r = subprocess.run([IMAPSCOPE, "-q"] + args + [path],
                                       capture_output=True, timeout=TIMEOUT, env=ENV)
                except subprocess.TimeoutExpired:
                    failures += 1
                    print("FAIL %s (%s, %s): hang" % (os.path.basename(cap), kind, " ".join(margs)))
                    continue
                err = r.stderr.decode(errors="replace")
                bad = (r.returncode not in (0, 1) or "runtime error" in err
                       or "Sanitizer" in err)
                fault = output_fault(r.stdout, json_lines)
                if fault:
                    bad = True
                    print("  %s" % fault)
                shutil.rmtree(xdir, ignore_errors=True)
                if bad:
                    failures += 1
                    keep = os.path.join(REPO, "build", "mutant-%d.pcap" % runs)
                    os.makedirs(os.path.dirname(keep), exist_ok=True)
                    with open(keep, "wb") as f:
                        f.write(d)
                    print("FAIL %s (%s, %s): exit %d, kept as %s\n%s" % (
                        os.path.basename(cap), kind, " ".join(margs), r.returncode, keep,
                        r.stderr.decode(errors="replace")[-600:]))
    print("mutation sweep: %d mutants of %d captures, %d failures" % (runs, len(caps), failures))
    return 1 if failures or runs < 100 else 0


if __name__ == "__main__":
    sys.exit(main())
