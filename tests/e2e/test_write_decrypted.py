#!/usr/bin/env python3
"""--write-decrypted FILE: the IMAP sessions as plaintext TCP in a pcap.

For the project's TLS and COMPRESS captures (TLS 1.2 and 1.3, STARTTLS and
implicit TLS, RSA key exchange, COMPRESS alone and inside TLS), a public one
(lekensteyn-imap-ssl: STARTTLS captured by someone else; skipped without
$PUBLIC) and two with
damage (loss.pcap: 5% loss that retransmissions repaired, so the plaintext
has no hole; segments-removed.pcap: three segments gone, a real gap):

1. tshark with no keys reads the written file and sees the same tagged
   commands, in order, per connection, as imapscope with keys on the
   original (port 993 is TLS's in Wireshark: `-d tcp.port==993,imap`
   says it is IMAP here; that is a decode-as, not a key);
2. every IPv4/IPv6 and TCP checksum in the file is right, and no TLS and no
   retransmission is left;
3. imapscope reading the written file (no keys) gives the same commands,
   responses, untagged responses and gaps, with the same times, as the
   original run with keys;
4. a gap is a sequence jump that tshark reports as a lost segment.

And: a session without keys stops where TLS began, and the run says how
much TLS it left out (notice write_decrypted); a session that is not IMAP
is not written; the filter applies; --streams and --write-decrypted work
together; the file is never written through a link, nor over an input.

Environment: IMAPSCOPE (the binary), REPO (the repository root), PUBLIC
(the public captures, optional)."""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

from public import public_dir, skip

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO") or os.path.join(os.path.dirname(__file__), "..", "..")
CAPS = os.path.join(REPO, "captures")
TSHARK = shutil.which("tshark")

# capture -> the key arguments that decrypt it (as tests/e2e/test_tls.py
# takes them from each truth file: implicit-rsa by the server's RSA key)
CAPTURES = {
    "starttls12": ["-k", "starttls12.keylog"],
    "starttls13": ["-k", "starttls13.keylog"],
    "implicit-ecdhe": ["-k", "implicit-ecdhe.keylog"],
    "implicit-rsa": ["--rsa-key", "tls/server.key"],
    "compress": [],
    "compress-tls": ["-k", "compress-tls.keylog"],
    "loss": [],
    "segments-removed": [],
}
DECODE_AS = ["-d", "tcp.port==993,imap"]
# What tshark calls a command; it reads the lines inside literals as
# requests too (it does not follow literals), which this leaves out.
TAG = re.compile(r"^[A-Za-z0-9.]+$")
COMMANDS = {
    "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "ENABLE",
    "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE",
    "LIST", "LSUB", "NAMESPACE", "STATUS", "APPEND", "IDLE", "CHECK", "CLOSE",
    "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "UID",
    "COMPRESS", "ID", "GETQUOTAROOT", "GETQUOTA", "XLIST",
}

failures = []


def fail(what, msg):
    failures.append("%s: %s" % (what, msg))


def imapscope(args):
    return subprocess.run([IMAPSCOPE, *args], capture_output=True)


def events(out):
    return [json.loads(l) for l in out.decode().splitlines() if l.strip()]


def tshark(path, *args):
    r = subprocess.run([TSHARK, "-n", "-r", path, *args], capture_output=True)
    if r.returncode != 0:
        fail(path, "tshark exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def key_args(name):
    a = list(CAPTURES[name])
    for i in range(1, len(a), 2):
        a[i] = os.path.join(CAPS, a[i])
    return a


def client_port(e):
    return int(e["client"].rsplit(":", 1)[1])


def commands_by_port(evs):
    """{client port: [(tag, first word of the command)]} from imapscope."""
    port, out = {}, {}
    for e in evs:
        if e["type"] == "session_start":
            port[e["session"]] = client_port(e)
            out[port[e["session"]]] = []
        elif e["type"] == "command":
            out[port[e["session"]]].append((e["tag"], e["command"].split()[0].upper()))
    return out


def tshark_commands(path):
    """{client port: [(tag, command)]} as tshark reads the file without keys."""
    out = {}
    text = tshark(path, *DECODE_AS, "-Y", "imap.request", "-T", "fields", "-E",
                  "aggregator=\x1f", "-e", "tcp.srcport", "-e", "imap.request_tag",
                  "-e", "imap.request.command")
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) != 3:
            continue
        port = int(cols[0])
        for tag, cmd in zip(cols[1].split("\x1f"), cols[2].split("\x1f")):
            if TAG.match(tag) and cmd.upper() in COMMANDS:
                out.setdefault(port, []).append((tag, cmd.upper()))
    return out


def comparable(evs):
    """The events reading the file again must reproduce, per session."""
    keep = []
    for e in evs:
        t = e["type"]
        if t == "command":
            keep.append((e["session"], t, e["ts"], e["tag"], e["command"], e.get("args")))
        elif t == "response":
            keep.append((e["session"], t, e["ts"], e["tag"], e["status"], e.get("text")))
        elif t == "untagged":
            keep.append((e["session"], t, e["ts"], e.get("name"), e.get("text")))
        elif t == "gap":
            keep.append((e["session"], t, e["ts"], e["dir"], e["bytes"], e["offset"]))
    return keep


def check_checksums(what, path):
    bad = tshark(path, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                 "-Y", "tcp.checksum.status == 0 || ip.checksum.status == 0")
    if bad.strip():
        fail(what, "bad checksums:\n" + bad[:500])
    left = tshark(path, *DECODE_AS, "-Y", "tls || tcp.analysis.retransmission")
    if left.strip():
        fail(what, "TLS or retransmissions left:\n" + left[:500])


def check_capture(tmp, name, src=None, keys=None):
    out = os.path.join(tmp, name + ".plain.pcap")
    src = src or os.path.join(CAPS, name + ".pcap")
    keys = key_args(name) if keys is None else keys
    r = imapscope(["-F", "json", "-q", *keys, src, "--write-decrypted", out])
    if r.returncode != 0:
        fail(name, "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")))
        return
    orig = events(r.stdout)
    want = commands_by_port(orig)
    if not any(want.values()):
        fail(name, "imapscope with keys saw no command")
    if os.stat(out).st_mode & 0o077:
        fail(name, "the file is not private")
    got = tshark_commands(out)
    for port, cmds in want.items():
        if got.get(port, []) != cmds:
            fail(name, "client port %d: tshark without keys saw %s, imapscope with keys %s"
                 % (port, got.get(port), cmds))
    check_checksums(name, out)
    again = imapscope(["-F", "json", out])
    if again.returncode != 0:
        fail(name, "reading the written file: exit %d" % again.returncode)
        return
    evs2 = events(again.stdout)
    if comparable(evs2) != comparable(orig):
        a, b = comparable(orig), comparable(evs2)
        diff = [(x, y) for x, y in zip(a, b) if x != y][:3]
        fail(name, "reading the written file gives other events (%d vs %d): %s"
             % (len(b), len(a), diff or "one is a prefix of the other"))
    if any(e["type"] == "tls" for e in evs2):
        fail(name, "the written file still has TLS")
    if name == "segments-removed":
        gaps = [e for e in orig if e["type"] == "gap"]
        lost = tshark(out, "-Y", "tcp.analysis.lost_segment")
        if not gaps or len(lost.strip().splitlines()) != len(gaps):
            fail(name, "%d gaps, but tshark reports %d lost segments"
                 % (len(gaps), len(lost.strip().splitlines())))
    if name == "loss" and any(e["type"] == "gap" for e in orig):
        fail(name, "retransmissions repaired every loss, yet a gap was reported")


def check_without_keys(tmp):
    """TLS that was not decrypted is left out, and the run says so once."""
    out = os.path.join(tmp, "nokeys.pcap")
    r = imapscope(["-F", "json", os.path.join(CAPS, "starttls13.pcap"),
                   "--write-decrypted", out])
    err = r.stderr.decode(errors="replace")
    lines = [l for l in err.splitlines() if "--write-decrypted" in l]
    if r.returncode != 0 or len(lines) != 1 or "1 session (2 directions)" not in lines[0]:
        fail("no keys", "exit %d, notice lines %s" % (r.returncode, lines))
    cmds = tshark_commands(out)
    flat = [c for v in cmds.values() for c in v]
    if flat != [("a001", "CAPABILITY"), ("a002", "STARTTLS")]:
        fail("no keys", "the file holds %s, not the plaintext before TLS" % flat)
    fins = tshark(out, "-Y", "tcp.flags.fin == 1")
    if len(fins.strip().splitlines()) != 2:
        fail("no keys", "the session does not end with a FIN from each side")


ETH = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"


def write_pcap(path, conns):
    """conns: [(client port, [(side, bytes)])] on 192.0.2.1 -> 192.0.2.2:143."""
    us = [1_700_000_000 * 1_000_000]
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

        def pkt(src, dst, sport, dport, seq, ack, flags, payload=b""):
            us[0] += 10
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0,
                             bytes(src), bytes(dst))
            tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535,
                              0, 0)
            frame = ETH + ip + tcp + payload
            f.write(struct.pack("<IIII", us[0] // 1_000_000, us[0] % 1_000_000,
                                len(frame), len(frame)))
            f.write(frame)

        c, s = [192, 0, 2, 1], [192, 0, 2, 2]
        for port, talk in conns:
            seq = {"c": 1000, "s": 5000}
            pkt(c, s, port, 143, 1000, 0, 0x02)
            pkt(s, c, 143, port, 5000, 1001, 0x12)
            seq = {"c": 1001, "s": 5001}
            for side, data in talk:
                a, b, pa, pb = (c, s, port, 143) if side == "c" else (s, c, 143, port)
                pkt(a, b, pa, pb, seq[side], seq["s" if side == "c" else "c"], 0x18, data)
                seq[side] += len(data)
            pkt(c, s, port, 143, seq["c"], seq["s"], 0x11)
            pkt(s, c, 143, port, seq["s"], seq["c"] + 1, 0x11)
            pkt(c, s, port, 143, seq["c"] + 1, seq["s"] + 1, 0x10)


def check_not_imap_and_filter(tmp):
    src = os.path.join(tmp, "mixed.pcap")
    write_pcap(src, [
        (40001, [("s", b"* OK ready\r\n"), ("c", b"a1 LOGIN u p\r\n"), ("s", b"a1 OK\r\n")]),
        (40002, [("s", b"SSH-2.0-OpenSSH_9.2\r\n"), ("c", b"SSH-2.0-client\r\n")]),
        (40003, [("s", b"* OK again\r\n"), ("c", b"b1 NOOP\r\n"), ("s", b"b1 OK\r\n")]),
    ])
    out = os.path.join(tmp, "mixed.plain.pcap")
    r = imapscope(["-q", src, "--write-decrypted", out])
    ports = set(tshark(out, "-T", "fields", "-e", "tcp.srcport").split())
    if r.returncode != 0 or ports != {"143", "40001", "40003"}:
        fail("not imap", "exit %d, ports written %s" % (r.returncode, sorted(ports)))
    r = imapscope(["-q", src, "--session", "3", "--write-decrypted", out])
    ports = set(tshark(out, "-T", "fields", "-e", "tcp.srcport").split())
    if r.returncode != 0 or ports != {"143", "40003"}:
        fail("--session", "exit %d, ports written %s" % (r.returncode, sorted(ports)))
    sdir = os.path.join(tmp, "streams")
    r = imapscope(["-q", src, "--streams", sdir, "--write-decrypted", out])
    try:
        with open(os.path.join(sdir, "session-000001-c2s.bin"), "rb") as f:
            c2s = f.read()
    except OSError as e:
        c2s = str(e).encode()
    cmds = tshark_commands(out)
    if r.returncode != 0 or c2s != b"a1 LOGIN u p\r\n" or cmds.get(40001) != [("a1", "LOGIN")]:
        fail("--streams with --write-decrypted", "exit %d, c2s %r, tshark %s"
             % (r.returncode, c2s, cmds))


def check_link_safety(tmp):
    src = os.path.join(CAPS, "compress.pcap")
    target = os.path.join(tmp, "precious")
    with open(target, "w") as f:
        f.write("keep me")
    link = os.path.join(tmp, "link.pcap")
    os.symlink(target, link)
    r = imapscope(["-q", src, "--write-decrypted", link])
    if r.returncode != 2 or open(target).read() != "keep me" or b"symbolic link" not in r.stderr:
        fail("link", "exit %d, %s" % (r.returncode, r.stderr))
    copy = os.path.join(tmp, "input.pcap")
    shutil.copy(src, copy)
    size = os.path.getsize(copy)
    r = imapscope(["-q", copy, "--write-decrypted", copy])
    if r.returncode != 2 or os.path.getsize(copy) != size:
        fail("input", "an input as --write-decrypted: exit %d" % r.returncode)
    r = imapscope(["-q", copy, "--write-decrypted", "-"])
    if r.returncode != 2:
        fail("stdout", "--write-decrypted - with the timeline on stdout: exit %d" % r.returncode)
    plain = os.path.join(tmp, "again.pcap")
    with open(plain, "w") as f:
        f.write("old contents, longer than nothing")
    r = imapscope(["-q", copy, "-o", os.devnull, "--write-decrypted", plain])
    with open(plain, "rb") as f:
        head = f.read(4)
    if r.returncode != 0 or head != b"\xd4\xc3\xb2\xa1":
        fail("overwrite", "a regular file is replaced as -o does: exit %d, %r"
             % (r.returncode, head))
    r = imapscope(["-q", copy, "-o", plain, "--write-decrypted", "-"])
    if r.returncode != 0 or r.stdout[:4] != b"\xd4\xc3\xb2\xa1":
        fail("stdout", "--write-decrypted - with -o FILE: exit %d" % r.returncode)


def main():
    if TSHARK is None:
        print("SKIP test_write_decrypted: no tshark")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in CAPTURES:
            check_capture(tmp, name)
        pub = public_dir()
        if pub is None:
            skip("test_write_decrypted on lekensteyn-imap-ssl.pcapng")
        else:
            check_capture(tmp, "lekensteyn-imap-ssl",
                          os.path.join(pub, "lekensteyn-imap-ssl.pcapng"),
                          ["-k", os.path.join(pub, "lekensteyn-imap-ssl.keylog")])
        check_without_keys(tmp)
        check_not_imap_and_filter(tmp)
        check_link_safety(tmp)
    for f in failures:
        print("FAIL", f)
    print("test_write_decrypted: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
