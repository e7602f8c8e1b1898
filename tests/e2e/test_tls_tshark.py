#!/usr/bin/env python3
"""Decrypted streams cross-checked with tshark: for every TLS session we
decrypt (corpus captures with key logs, and the public lekensteyn capture),
tshark's "follow tls" bytes must be exactly the tail of our --streams file
(ours also hold the plaintext before STARTTLS).  Sessions that turned on
COMPRESS are left out: we write inflated bytes, tshark the deflate stream."""
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


def keyed_captures():
    out = []
    for k in sorted(glob.glob(os.path.join(REPO, "captures", "*.keylog"))):
        cap = k[:-len(".keylog")] + ".pcap"
        if os.path.exists(cap):
            out.append((cap, k))
    if PUBLIC is None:
        skip("tshark on the public lekensteyn capture")
        return out
    lek = os.path.join(PUBLIC, "lekensteyn-imap-ssl.pcapng")
    if os.path.exists(lek):
        out.append((lek, os.path.join(PUBLIC, "lekensteyn-imap-ssl.keylog")))
    return out


def tshark_follow(cap, keylog, stream):
    """The two directions of tcp.stream N as tshark decrypts them: the
    indented lines are one side, the others the other side."""
    r = subprocess.run(["tshark", "-r", cap, "-o", "tls.keylog_file:" + keylog, "-q",
                        "-z", "follow,tls,raw,%d" % stream],
                       capture_output=True, check=True)
    a, b = bytearray(), bytearray()
    body = False
    for line in r.stdout.decode().splitlines():
        if line.startswith("Node 1:"):
            body = True
            continue
        if not body or not line.strip() or line.startswith("===="):
            continue
        (a if line.startswith("\t") else b).extend(bytes.fromhex(line.strip()))
    return bytes(a), bytes(b)


def tcp_streams(cap):
    """client "ip:port" -> tcp.stream index, from the SYNs."""
    r = subprocess.run(["tshark", "-r", cap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==0",
                        "-T", "fields", "-e", "tcp.stream", "-e", "ip.src", "-e", "ipv6.src",
                        "-e", "tcp.srcport"], capture_output=True, check=True)
    out = {}
    for line in r.stdout.decode().splitlines():
        stream, v4, v6, port = line.split("\t")
        host = v4 or "[%s]" % v6
        out.setdefault("%s:%s" % (host, port), int(stream))
    return out


def main():
    if shutil.which("tshark") is None:
        print("tshark is not installed (apt-get install tshark)")
        return 1
    compared = failed = 0
    for cap, keylog in keyed_captures():
        with tempfile.TemporaryDirectory() as tmp:
            sdir = os.path.join(tmp, "s")
            r = subprocess.run([IMAPSCOPE, "-q", "-F", "json", "-k", keylog,
                                "--streams", sdir, cap], capture_output=True, check=True)
            events = [json.loads(l) for l in r.stdout.decode().splitlines()]
            decrypted = {e["session"] for e in events if e["type"] == "tls" and e["decrypted"]}
            decrypted -= {e["session"] for e in events if e["type"] == "compress"}
            index = [json.loads(l) for l in open(os.path.join(sdir, "index.jsonl"))]
            streams = tcp_streams(cap)
            for s in index:
                if s["session"] not in decrypted or s["client"] not in streams:
                    continue
                ours = [open(os.path.join(sdir, s[d]["file"]), "rb").read()
                        for d in ("c2s", "s2c")]
                a, b = tshark_follow(cap, keylog, streams[s["client"]])
                compared += 1
                ok = any(x and y and ours[0].endswith(x) and ours[1].endswith(y)
                         for x, y in ((a, b), (b, a)))
                if not ok:
                    failed += 1
                    print("DIFF %s session %d: ours c2s %d s2c %d bytes, tshark %d/%d" % (
                        os.path.basename(cap), s["session"], len(ours[0]), len(ours[1]),
                        len(a), len(b)))
    print("tls vs tshark: %d decrypted sessions compared, %d differ" % (compared, failed))
    if compared < 10:
        print("FAIL: too few sessions compared")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
