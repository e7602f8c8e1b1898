#!/usr/bin/env python3
"""Hostile input at the packet layer, end to end: what a crafted capture or
a live interface can hide below IMAP.

- a live interface: TCP behind an IPv6 extension header passes the default
  filter (root only; skipped otherwise), and the interface errors name the
  interface once;
- IPv6 chains of 9 and more extension headers, from a file;
- a NULL/LOOP capture with an unknown address family: a counted notice;
- a retransmission that carries different bytes: the first copy wins and
  the conflict is reported with its direction, offset and length;
- pcapng files with a corrupt block: a notice, and the blocks after a bad
  length are still read where the next block can be found.

The captures are generated into a temporary directory; the classic pcap
writer and the TCP connection builder come from test_hostile.py."""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_hostile as th  # noqa: E402  (the pcap writer; its main() does not run)

IMAPSCOPE = os.environ["IMAPSCOPE"]
FAILS = []


def check(ok, name, what):
    if not ok:
        print(f"FAIL: {name}: {what}")
        FAILS.append(name)
    return ok


def run(args, timeout=60):
    p = subprocess.run([IMAPSCOPE] + args, capture_output=True, timeout=timeout,
                       env=th.ENV)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def jsonl(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def notice_lines(err):
    return [l for l in err.splitlines() if l.startswith("imapscope: ")]


# ---- link-level writers ------------------------------------------------

V6_CLIENT = bytes.fromhex("20010db8000000000000000000000001")
V6_SERVER = bytes.fromhex("20010db8000000000000000000000002")


def tcp_hdr(sport, dport, seq, ack, flags):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                       5 << 4, flags, 65535, 0, 0)


def ipv6_packet(src, dst, n_ext, tcp):
    """IPv6, n_ext destination-options headers of 8 bytes, then tcp."""
    ext = b""
    for i in range(n_ext):
        ext += bytes([60 if i + 1 < n_ext else 6, 0, 1, 4, 0, 0, 0, 0])
    first = 60 if n_ext else 6
    return struct.pack("!IHBB", 0x60000000, len(ext) + len(tcp), first, 64) + src + dst + ext + tcp


class RawV6Pcap:
    """A classic pcap of raw IPv6 packets (LINKTYPE_RAW)."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
        self.us = 1_700_000_000 * 1_000_000

    def write(self, pkt):
        self.us += 10
        self.f.write(struct.pack("<IIII", self.us // 1_000_000, self.us % 1_000_000,
                                 len(pkt), len(pkt)) + pkt)

    def close(self):
        self.f.close()


def v6_session(path, n_ext):
    """A whole IMAP session over IPv6 whose every packet carries n_ext
    extension headers."""
    p = RawV6Pcap(path)
    cs, ss = 1000, 5000
    c, s = V6_CLIENT, V6_SERVER

    def pkt(frm, seq, ack, flags, data=b""):
        if frm == "c":
            p.write(ipv6_packet(c, s, n_ext, tcp_hdr(40000, 143, seq, ack, flags) + data))
        else:
            p.write(ipv6_packet(s, c, n_ext, tcp_hdr(143, 40000, seq, ack, flags) + data))

    pkt("c", cs, 0, th.SYN)
    pkt("s", ss, cs + 1, th.SYN | th.ACK)
    cs, ss = cs + 1, ss + 1
    greet = b"* OK ready\r\n"
    pkt("s", ss, cs, th.ACK | th.PSH, greet)
    ss += len(greet)
    login = b"a1 LOGIN alice secret\r\n"
    pkt("c", cs, ss, th.ACK | th.PSH, login)
    cs += len(login)
    ok = b"a1 OK done\r\n"
    pkt("s", ss, cs, th.ACK | th.PSH, ok)
    ss += len(ok)
    pkt("c", cs, ss, th.ACK | th.FIN)
    pkt("s", ss, cs + 1, th.ACK | th.FIN)
    p.close()


def case_ipv6_long_chains(tmp):
    """Linux answers TCP behind 9, 30, 200 extension headers; so must we."""
    for n in (0, 8, 9, 30, 200):
        name = f"ipv6_chain_{n}"
        path = os.path.join(tmp, name + ".pcap")
        v6_session(path, n)
        rc, out, err = run(["-F", "json", "--show-secrets", path])
        evs = jsonl(out)
        logins = [e for e in evs if e.get("type") == "command" and e.get("command") == "LOGIN"]
        check(rc == 0, name, f"exit {rc}: {err}")
        check(len(logins) == 1, name, f"{len(logins)} LOGIN commands, want 1; stderr {err!r}")
        check("malformed" not in err, name, f"packets called malformed: {err!r}")


# ---- NULL/LOOP with an unknown address family ----------------------------

def case_null_unknown_af(tmp):
    for lt in (0, 108):
        name = f"null_unknown_af_lt{lt}"
        path = os.path.join(tmp, name + ".pcap")
        v4 = os.path.join(tmp, name + "-src.pcap")
        p = th.Pcap(v4)
        c = th.Conn(p)
        th.greet(c)
        c.fin()
        p.close()
        # The same packets with the Ethernet header replaced by a loopback
        # header: AF_INET for all but two, which carry family 7.
        _, pkts = th.read_pcap(v4)
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, lt))
            for i, (sec, usec, frame) in enumerate(pkts):
                af = 7 if i in (1, 3) else 2
                hdr = struct.pack(">I" if lt == 108 else "<I", af)
                q = hdr + frame[14:]
                f.write(struct.pack("<IIII", sec, usec, len(q), len(q)) + q)
        rc, out, err = run(["-F", "json", path])
        check(rc == 0, name, f"exit {rc}: {err}")
        check("2 unknown address family (NULL/LOOP)" in err, name,
              f"no counted notice for the unknown family: {err!r}")


# ---- a retransmission that says something else ---------------------------

def case_differing_retransmission(tmp):
    """The LOGIN is retransmitted with another user: what the server saw
    first is kept, and the disagreement is said with its place."""
    name = "differing_retransmission"
    path = os.path.join(tmp, name + ".pcap")
    p = th.Pcap(path)
    c = th.Conn(p)
    th.greet(c)
    first = b"a1 LOGIN alice secret\r\n"
    c.send("c", first)
    c.send_at("c", -len(first), b"a1 LOGIN mallo secret\r\n")
    c.send_at("c", -len(first), first)          # an identical copy: no conflict
    c.send("s", b"a1 OK done\r\n")
    c.fin()
    p.close()
    rc, out, err = run(["-F", "json", "--show-secrets", path])
    evs = jsonl(out)
    users = [e.get("user") for e in evs if e.get("type") == "login"]
    check(rc == 0, name, f"exit {rc}: {err}")
    check(users == ["alice"], name, f"login users {users}, want the first copy's ['alice']")
    want = "session 1: overlap_conflict c2s at offset 9: a later copy differs over 5 bytes"
    check(want in err, name, f"no overlap_conflict notice with its place: {err!r}")
    check(err.count("overlap_conflict") == 1, name, f"not exactly one conflict: {err!r}")
    check("(5 differed; first copy kept)" in err, name, f"the differing bytes are not counted: {err!r}")
    ev = [e for e in evs if e.get("type") == "notice" and e.get("kind") == "overlap_conflict"]
    check(len(ev) == 1 and ev[0].get("dir") == "c2s" and ev[0].get("offset") == 9
          and ev[0].get("bytes") == 5, name, f"no overlap_conflict event with dir/offset/bytes: {ev}")
    rc, out, err = run(["--show-secrets", path])
    check("overlap_conflict c2s at offset 9" in out, name, f"the text timeline does not show it: {out!r}")


# ---- pcapng with corrupt blocks -------------------------------------------

def ng_block(btype, body, length=None, trailer=None):
    body += b"\0" * ((-len(body)) % 4)
    n = 12 + len(body)
    return (struct.pack("<II", btype, n if length is None else length) + body +
            struct.pack("<I", n if trailer is None else trailer))


def ng_shb():
    return ng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def ng_idb(linktype=1, tsresol=None):
    opts = b""
    if tsresol is not None:
        opts = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
    return ng_block(1, struct.pack("<HHI", linktype, 0, 262144) + opts)


def ng_epb(sec, usec, frame):
    ts = sec * 1_000_000 + usec
    return ng_block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame),
                                   len(frame)) + frame)


def imap_epbs(tmp, name):
    """The EPBs of a generated session: greeting, then LOGIN n for n in
    0..9 each answered, then FIN."""
    src = os.path.join(tmp, name + "-src.pcap")
    p = th.Pcap(src)
    c = th.Conn(p)
    th.greet(c)
    for i in range(10):
        c.send("c", b"a%d LOGIN user%d pw\r\n" % (i, i))
        c.send("s", b"a%d NO nope\r\n" % i)
    c.fin()
    p.close()
    _, pkts = th.read_pcap(src)
    return [ng_epb(sec, usec, frame) for sec, usec, frame in pkts]


def users_seen(out):
    return sorted(e.get("user") for e in jsonl(out) if e.get("type") == "login")


def case_pcapng_corrupt(tmp):
    epbs = imap_epbs(tmp, "ng")
    # packets 0-2: handshake, 3: greeting, then LOGIN/NO pairs: 4+2i, 5+2i
    want_all = sorted(f"user{i}" for i in range(10))
    junk_len = struct.pack("<II", 6, 0xFFFFFFF0) + b"\xee" * 40
    junk_small = struct.pack("<II", 6, 7) + b"\xee" * 13         # breaks 4-byte alignment
    bad_trailer = ng_block(6, b"\0" * 40, trailer=12345)
    cases = {
        # a block with a bad length among the blocks, nothing lost around it
        "pcapng_bad_length": ([ng_shb(), ng_idb()] + epbs[:8] + [junk_len] + epbs[8:], 1, want_all),
        "pcapng_short_length": ([ng_shb(), ng_idb()] + epbs[:8] + [junk_small] + epbs[8:], 1,
                                want_all),
        "pcapng_bad_trailer": ([ng_shb(), ng_idb()] + epbs[:8] + [bad_trailer] + epbs[8:], 1,
                               want_all),
        # two of them, a later one found only by the walker
        "pcapng_two_bad": ([ng_shb(), ng_idb()] + epbs[:8] + [junk_len] + epbs[8:14] +
                           [junk_small] + epbs[14:], 2, want_all),
        # an EPB claiming more bytes than it holds: passed over whole (its
        # LOGIN is lost, as a gap)
        "pcapng_bad_caplen": ([ng_shb(), ng_idb()] + epbs[:6] +
                              [ng_block(6, struct.pack("<IIIII", 0, 0, 0, 9999, 9999) + b"x" * 8)]
                              + epbs[6:], 1, want_all),
        # cut inside its last block
        "pcapng_cut": ([ng_shb(), ng_idb()] + epbs + [epbs[-1][:30]], 1, want_all),
    }
    for name, (blocks, n_bad, want) in cases.items():
        path = os.path.join(tmp, name + ".pcapng")
        with open(path, "wb") as f:
            f.write(b"".join(blocks))
        rc, out, err = run(["-F", "json", "--show-secrets", path])
        bad = [l for l in notice_lines(err) if "corrupt pcapng block" in l]
        check(rc == 0, name, f"exit {rc}: {err!r}")
        check(len(bad) == n_bad, name, f"{len(bad)} corrupt-block notices, want {n_bad}: {err!r}")
        check(all(l.startswith(f"imapscope: {path}: corrupt pcapng block at offset ") for l in bad),
              name, f"notice does not name the file and offset: {bad}")
        check(users_seen(out) == want, name, f"logins {users_seen(out)}, want {want}")
        check("processed what came before" not in err, name, f"the file was given up: {err!r}")
    # The filter applies past the bad block as before it.
    path = os.path.join(tmp, "pcapng_bad_length.pcapng")
    rc, out, err = run(["-F", "json", "-r", path, "tcp", "port", "143"])
    check(users_seen(out) == want_all, "pcapng_filter", f"logins {users_seen(out)} with a filter")
    rc, out, err = run(["-F", "json", "-r", path, "tcp", "port", "144"])
    check(users_seen(out) == [] and rc == 0, "pcapng_filter", f"a filter for nothing let {users_seen(out)} through")
    # A pipe cannot be read again: given up as before, with the one line.
    with open(path, "rb") as f:
        data = f.read()
    p = subprocess.run([IMAPSCOPE, "-F", "json", "-"], input=data, capture_output=True, timeout=60)
    err = p.stderr.decode()
    check(p.returncode == 0 and "processed what came before" in err, "pcapng_pipe",
          f"exit {p.returncode}: {err!r}")


# ---- live capture -----------------------------------------------------

def case_live_errors(tmp):
    name = "live_missing_interface"
    rc, out, err = run(["-i", "nosuchif0"])
    lines = err.splitlines()
    check(rc == 1, name, f"exit {rc}, want 1 (input unreadable)")
    check(len(lines) == 1, name, f"{len(lines)} stderr lines: {err!r}")
    check(lines and lines[0] == "imapscope: nosuchif0: no such interface", name,
          f"stderr {err!r}")
    # Without privileges: the interface is named once, and a missing one is
    # still missing, not a permission problem.
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        print("test_hostile_net: skip: unprivileged live errors (needs root and setpriv)")
        return
    drop = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    for iface, want in (("lo", "imapscope: lo: permission denied"),
                        ("nosuchif0", "imapscope: nosuchif0: no such interface")):
        name = f"live_unprivileged_{iface}"
        p = subprocess.run(drop + [IMAPSCOPE, "-i", iface], capture_output=True, timeout=30)
        err = p.stderr.decode()
        lines = err.splitlines()
        check(p.returncode == 1, name, f"exit {p.returncode}")
        check(len(lines) == 1 and lines[0].startswith(want), name, f"stderr {err!r}")
        check(err.count(iface) == 1, name, f"the interface is not named once: {err!r}")


def v6_client_with_dstopts(port, done):
    """A TCP session over ::1 whose packets carry a destination-options
    header (the sticky IPV6_DSTOPTS socket option)."""
    srv = socket.socket(socket.AF_INET6)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("::1", port))
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        c.sendall(b"* OK ready\r\n")
        c.recv(100)
        c.sendall(b"a1 OK bye\r\n")
        c.close()

    t = threading.Thread(target=serve)
    t.start()
    s = socket.socket(socket.AF_INET6)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
    s.connect(("::1", port))
    s.recv(100)
    s.sendall(b"a1 LOGOUT\r\n")
    s.recv(100)
    s.close()
    t.join()
    srv.close()
    done.append(True)


def case_live_ipv6_ext(tmp):
    name = "live_ipv6_extension_header"
    if os.geteuid() != 0 or not socket.has_ipv6 or not hasattr(socket, "IPV6_DSTOPTS"):
        print("test_hostile_net: skip: live IPv6 extension headers (needs root and IPv6)")
        return
    probe = socket.socket(socket.AF_INET6)
    try:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    except OSError:
        print("test_hostile_net: skip: live IPv6 extension headers (no ::1)")
        return
    finally:
        probe.close()
    p = subprocess.Popen([IMAPSCOPE, "-i", "lo", "-F", "json", "--duration", "4",
                          "-p", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.2)
    if p.poll() is not None:
        err = p.stderr.read().decode()
        check(False, name, f"live capture did not start: {err!r}")
        return
    done = []
    v6_client_with_dstopts(port, done)
    out, err = p.communicate(timeout=30)
    evs = jsonl(out.decode())
    cmds = [e for e in evs if e.get("type") == "command" and e.get("command") == "LOGOUT"]
    check(len(cmds) == 1, name, f"the client's LOGOUT (behind a destination-options header)"
          f" was not seen: {err.decode()!r}")
    check(b"Warning" not in err, name, f"libpcap warned: {err!r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for f in (case_ipv6_long_chains, case_null_unknown_af, case_differing_retransmission,
                  case_pcapng_corrupt,
                  case_live_errors,
                  case_live_ipv6_ext):
            f(tmp)
    if FAILS:
        print(f"test_hostile_net: {len(FAILS)} failures")
        sys.exit(1)
    print("test_hostile_net: all packet-layer hostile inputs handled")


if __name__ == "__main__":
    main()
