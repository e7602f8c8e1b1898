#!/usr/bin/env python3
"""Hostile inputs, end to end: generated captures that try to make imapscope
allocate without bound, recurse without bound, or write wire bytes raw to a
terminal.  Each run is under an address-space limit (a runaway allocation
fails instead of swapping), its peak RSS is measured, and it must exit 0 with
valid JSON Lines and a notice on stderr.

The captures are written to a temporary directory by the small pcap writer
below (Ethernet, IPv4, TCP with consistent seq/ack) and removed at the end.
Under a sanitizer build (detected from the binary) the address-space limit
is off, the RSS bounds are looser and the flow flood is smaller, because
ASan reserves terabytes of shadow and runs several times slower.

HOSTILE_VERBOSE=1 prints each case's figures."""
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO", ".")
VERBOSE = os.environ.get("HOSTILE_VERBOSE") == "1"
MB = 1 << 20
AS_LIMIT = 512 * MB          # address space of one run
TIMEOUT = 300                # seconds per run; only a hang gets near it
TIME = "/usr/bin/time"       # GNU time: the peak RSS of exactly one run
ENV = dict(os.environ, ASAN_OPTIONS="exitcode=86:" + os.environ.get("ASAN_OPTIONS", ""),
           UBSAN_OPTIONS="exitcode=87:" + os.environ.get("UBSAN_OPTIONS", ""))


def sanitized():
    with open(IMAPSCOPE, "rb") as f:
        return b"__asan_init" in f.read()


SAN = sanitized()
if SAN:
    # ASan keeps 256 MB of freed memory in quarantine by default; a flood of
    # short sessions would measure that, not imapscope.
    ENV["ASAN_OPTIONS"] = "quarantine_size_mb=16:" + ENV["ASAN_OPTIONS"]
# ASan's allocator and shadow add tens of MB; the bounds below are what a
# plain build must meet, multiplied for the sanitizer build.
RSS_SCALE = 4 if SAN else 1
FLOOD_FLOWS = 100_000 if SAN else 1_000_000

CLIENT = (10, 0, 0, 1)
SERVER = (10, 0, 0, 2)
ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
SEG = 32000                  # payload per segment: big segments, fewer records


def ip_checksum(hdr):
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Pcap:
    """A classic little-endian pcap of Ethernet frames."""

    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.us = 1_700_000_000 * 1_000_000

    def packet(self, src, dst, sport, dport, seq, ack, flags, payload=b""):
        self.us += 10
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000,
                                   64, 6, 0, bytes(src), bytes(dst)))
        struct.pack_into("!H", ip, 10, ip_checksum(ip))
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        frame = ETH + bytes(ip) + tcp + payload
        self.f.write(struct.pack("<IIII", self.us // 1_000_000, self.us % 1_000_000,
                                 len(frame), len(frame)))
        self.f.write(frame)

    def close(self):
        self.f.close()


class Conn:
    """One TCP connection: handshake, data either way, FIN."""

    def __init__(self, pcap, cport=40000, sport=143, client=CLIENT, server=SERVER):
        self.p = pcap
        self.ep = {"c": (client, cport), "s": (server, sport)}
        self.seq = {"c": 1000, "s": 5000}
        self.p.packet(client, server, cport, sport, self.seq["c"], 0, SYN)
        self.p.packet(server, client, sport, cport, self.seq["s"], self.seq["c"] + 1, SYN | ACK)
        self.seq["c"] += 1
        self.seq["s"] += 1
        self.p.packet(client, server, cport, sport, self.seq["c"], self.seq["s"], ACK)

    def _pkt(self, side, flags, payload=b"", at=None):
        other = "s" if side == "c" else "c"
        (a, pa), (b, pb) = self.ep[side], self.ep[other]
        seq = self.seq[side] if at is None else at
        self.p.packet(a, b, pa, pb, seq, self.seq[other], flags, payload)

    def send(self, side, data):
        for i in range(0, len(data), SEG):
            chunk = data[i:i + SEG]
            self._pkt(side, ACK | PSH, chunk)
            self.seq[side] += len(chunk)

    def send_at(self, side, offset, data):
        """A segment offset bytes past the current sequence, not advancing it."""
        self._pkt(side, ACK | PSH, data, at=self.seq[side] + offset)

    def fin(self):
        for side in ("c", "s"):
            self._pkt(side, FIN | ACK)
            self.seq[side] += 1


def flood(path, n):
    """n flows of SYN plus one payload each, from distinct ports and
    addresses; written from templates so that a million take seconds."""
    payload = b"a1 NOOP\r\n"
    syn_ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0,
                                   b"\0\0\0\0", bytes(SERVER)))
    dat_ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000,
                                   64, 6, 0, b"\0\0\0\0", bytes(SERVER)))
    base_syn = sum(struct.unpack("!10H", syn_ip))
    base_dat = sum(struct.unpack("!10H", dat_ip))
    syn_len, dat_len = 14 + 40, 14 + 40 + len(payload)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    sec = 1_700_000_000
    with open(path, "wb") as f:
        for i in range(n):
            # 10.1.0.0/16 and up: a new address every 50000 ports
            a = 0x0A010000 + i // 50000
            port = 10000 + i % 50000
            words = (a >> 16) + (a & 0xFFFF)
            usec = i % 1_000_000
            s = sec + i // 1_000_000
            for ip, base, ln, flags, seq, pl in ((syn_ip, base_syn, syn_len, SYN, 1000, b""),
                                                  (dat_ip, base_dat, dat_len, ACK | PSH, 1001,
                                                   payload)):
                c = base + words
                c = (c & 0xFFFF) + (c >> 16)
                c = (c & 0xFFFF) + (c >> 16)
                struct.pack_into("!I", ip, 12, a)
                struct.pack_into("!H", ip, 10, ~c & 0xFFFF)
                out += struct.pack("<IIII", s, usec, ln, ln)
                out += ETH
                out += ip
                out += struct.pack("!HHIIBBHHH", port, 143, seq, 0, 5 << 4, flags, 65535, 0, 0)
                out += pl
            if len(out) > 4 * MB:
                f.write(out)
                out.clear()
        f.write(out)


def limit_as():
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def run(args, keep_output=True):
    """Run imapscope; returns (exit code, stdout lines, line count, byte
    count, stderr, peak RSS in MB, seconds).  Output is read as it comes, so
    a flood of lines never sits in this process whole: when keep_output is
    False only every 1000th line is kept.  The peak RSS comes from
    /usr/bin/time: getrusage of a child forked from this process would also
    count the pages the fork shared with Python before exec."""
    t0 = time.monotonic()
    fd, rss_path = tempfile.mkstemp(prefix="hostile-rss-")
    os.close(fd)
    p = subprocess.Popen([TIME, "-f", "%M", "-o", rss_path, IMAPSCOPE] + args,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=ENV, preexec_fn=None if SAN else limit_as)
    lines, nlines, nbytes = [], 0, 0
    err = []
    # stderr is drained by a thread so that neither pipe can fill and block.
    th = threading.Thread(target=lambda: err.append(p.stderr.read()))
    th.start()
    # A hang must fail the test, not stall it: kill the run at TIMEOUT.
    watchdog = threading.Timer(TIMEOUT, p.kill)
    watchdog.start()
    for line in p.stdout:
        nlines += 1
        nbytes += len(line)
        if keep_output or nlines % 1000 == 1:
            lines.append(line)
    th.join()
    rc = p.wait()
    watchdog.cancel()
    with open(rss_path) as f:
        text = f.read().split()
    os.unlink(rss_path)
    # time prints "Command exited with non-zero status N" before %M
    rss = int(text[-1]) / 1024 if text and text[-1].isdigit() else float("inf")
    return rc, lines, nlines, nbytes, err[0], rss, time.monotonic() - t0


class Case:
    failures = 0

    def __init__(self, name):
        self.name = name

    def check(self, ok, what):
        if not ok:
            print(f"FAIL: {self.name}: {what}")
            Case.failures += 1
        return ok


def check_run(case, res, rss_mb, notice=None, json_lines=True):
    rc, lines, nlines, nbytes, err, rss, secs = res
    if VERBOSE:
        print(f"  {case.name}: exit {rc}, {nlines} lines, {nbytes} bytes out, "
              f"{len(err)} bytes stderr, peak RSS {rss:.1f} MB, {secs:.1f} s")
    case.check(rc == 0, f"exit {rc}, stderr: {err[-400:]!r}")
    case.check(rss <= rss_mb * RSS_SCALE, f"peak RSS {rss:.1f} MB > {rss_mb * RSS_SCALE} MB")
    for line in lines if json_lines else []:
        try:
            json.loads(line, strict=True)
        except ValueError as e:
            case.check(False, f"invalid JSON line {line[:200]!r}: {e}")
            break
    if notice is not None:
        case.check(any(l.startswith(b"imapscope: ") for l in err.splitlines()),
                   "no notice on stderr")
        case.check(notice.encode() in err, f"no notice matching {notice!r}: {err[-600:]!r}")


def events(lines):
    return [json.loads(l) for l in lines]


def session_end(evs):
    ends = [e for e in evs if e.get("type") == "session_end"]
    return ends[0]["summary"] if ends else {}


def greet(c):
    c.send("s", b"* OK IMAP4rev1 ready\r\n")


def case_huge_literal(tmp):
    case = Case("4 GB literal")
    path = os.path.join(tmp, "literal.pcap")
    p = Pcap(path)
    c = Conn(p)
    greet(c)
    c.send("c", b"a1 FETCH 1 BODY[]\r\n")
    c.send("s", b"* 1 FETCH (BODY[] {4294967296}\r\n" + b"x" * (8 * MB))
    c.fin()
    p.close()
    res = run(["-F", "json", path])
    check_run(case, res, 40, notice="literal")
    evs = events(res[1])
    s = session_end(evs)
    case.check(s.get("notices", 0) >= 1 or s.get("gaps", 0) >= 1,
               f"the cut literal is not counted in the summary: {s}")


def case_flood(tmp):
    case = Case(f"{FLOOD_FLOWS} flows")
    path = os.path.join(tmp, "flood.pcap")
    t0 = time.monotonic()
    flood(path, FLOOD_FLOWS)
    if VERBOSE:
        print(f"  flood: wrote {os.path.getsize(path) // MB} MB in {time.monotonic() - t0:.1f} s")
    res = run(["-F", "json", "--max-flows", "1000", path], keep_output=False)
    check_run(case, res, 64, notice="evict")
    _, lines, nlines, nbytes, err, _, _ = res
    # Each flow is one session of a few events; nothing grows faster.
    case.check(nlines <= 4 * FLOOD_FLOWS, f"{nlines} lines for {FLOOD_FLOWS} flows")
    case.check(nbytes <= 1200 * FLOOD_FLOWS, f"{nbytes} bytes for {FLOOD_FLOWS} flows")
    case.check(len(err.splitlines()) <= 100, f"{len(err.splitlines())} notice lines")
    res = run(["--summary", "-F", "json", "--max-flows", "1000", path], keep_output=False)
    check_run(case, res, 64)


def case_nesting(tmp):
    """100k "(" pass the line cap first; 30k fit in a line and reach the
    depth cap of the tokenizer, which only --extract walks that deep."""
    case = Case("nested lists")
    path = os.path.join(tmp, "nest.pcap")
    p = Pcap(path)
    c = Conn(p)
    greet(c)
    for n, tag in ((100_000, b"a"), (30_000, b"b")):
        c.send("c", tag + b"1 FETCH 1 (" + b"(" * n + b"\r\n")
        c.send("s", tag + b"1 BAD nesting\r\n")
        c.send("c", tag + b"2 FETCH 1 BODY[]\r\n")
        c.send("s", b"* 1 FETCH (BODY " + b"(" * n + b" BODY[] {5}\r\nhello)\r\n")
        c.send("s", tag + b"2 OK done\r\n")
        c.send("c", tag + b"3 APPEND box " + b"(" * n + b" {5+}\r\nhello\r\n")
        c.send("s", tag + b"3 OK done\r\n")
    c.fin()
    p.close()
    res = run(["-F", "json", path])
    check_run(case, res, 40, notice="line longer")
    evs = events(res[1])
    tags = [e.get("tag") for e in evs if e.get("type") == "response"]
    case.check(tags == ["a1", "a2", "a3", "b1", "b2", "b3"],
               f"lost sync around the deep lines: {tags}")
    case.check(session_end(evs).get("notices", 0) >= 3, "line cap notices not counted")
    exdir = os.path.join(tmp, "nest-extract")
    res = run(["-F", "json", "--extract", exdir, path])
    check_run(case, res, 40, notice="nest")
    case.check(session_end(events(res[1])).get("notices", 0) >= 5,
               "depth cap notices not counted")
    res = run(["-F", "text", path])
    check_run(case, res, 40, json_lines=False)


def case_endless_line(tmp):
    case = Case("50 MB line")
    path = os.path.join(tmp, "line.pcap")
    p = Pcap(path)
    c = Conn(p)
    greet(c)
    c.send("c", b"a1 NOOP\r\n")
    chunk = b"* OK " + b"A" * (MB - 5)
    c.send("s", chunk + b"B" * (49 * MB))
    c.send("s", b"\r\na1 OK NOOP done\r\n")
    c.send("c", b"a2 LOGOUT " + b"C" * (20 * MB))
    c.fin()
    p.close()
    res = run(["-F", "json", path])
    check_run(case, res, 48, notice="line")
    evs = events(res[1])
    tags = [e.get("tag") for e in evs if e.get("type") == "response"]
    case.check("a1" in tags, f"the line after the long one was lost: {tags}")
    case.check(session_end(evs).get("notices", 0) >= 1, "the cut line is not counted")


def case_ooo(tmp):
    case = Case("out-of-order flood")
    path = os.path.join(tmp, "ooo.pcap")
    p = Pcap(path)
    c = Conn(p)
    greet(c)
    c.send("c", b"a1 NOOP\r\n")
    # 40 MB of segments 1 MB and more ahead of the server's stream, never
    # filled: all but 64 KB of it must be dropped and counted.
    data = b"* OK " + b"z" * 995
    for i in range(40_000):
        c.send_at("s", MB + i * 1000, data)
    c.send("s", b"a1 OK NOOP done\r\n")
    c.fin()
    p.close()
    res = run(["-F", "json", "--max-ooo-bytes", "65536", path])
    check_run(case, res, 40, notice="out-of-order")
    evs = events(res[1])
    gaps = [e for e in evs if e.get("type") == "gap"]
    case.check(gaps, "no gap event")
    s = session_end(evs)
    case.check(s.get("gaps", 0) >= 1 and s.get("gap_bytes", 0) >= MB,
               f"the loss is not in the summary: {s}")
    case.check(s.get("capped", 0) >= 1, f"the cap is not counted in the summary: {s}")


def case_ooo_tiny(tmp):
    """One-byte segments that each land between two queued ones: without the
    cap on queued runs every insertion walked the queue (100,000 of them took
    9 s, a million would take a quarter of an hour)."""
    case = Case("tiny out-of-order segments")
    path = os.path.join(tmp, "ooo-tiny.pcap")
    n = 50_000 if SAN else 200_000
    p = Pcap(path)
    c = Conn(p)
    greet(c)
    c.send("c", b"a1 NOOP\r\n")
    for i in range(1, n + 1):
        c.send_at("s", 2 * i, b"x")
    for i in range(n, 0, -1):
        c.send_at("s", 2 * i - 1, b"y")
    c.send_at("s", 2 * n + 1, b"\r\na1 OK done\r\n")
    c.fin()
    p.close()
    res = run(["-F", "json", path], keep_output=False)
    check_run(case, res, 40, notice="separate runs")
    # gap notices: a few, then one line with the sum
    case.check(len(res[4].splitlines()) <= 20, f"{len(res[4].splitlines())} notice lines")


def case_control_bytes(tmp):
    case = Case("control bytes")
    path = os.path.join(tmp, "ctl.pcap")
    p = Pcap(path)
    c = Conn(p)
    nasty = b"\x1b[31m\x07\x7f\x00\x08\xff\xfe\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80\x9b"
    c.send("s", b"* OK " + nasty + b" ready\r\n")
    # A first line this odd would mark the flow as not IMAP: start plainly.
    c.send("c", b"a0 CAPABILITY\r\n")
    c.send("s", b"a0 OK done\r\n")
    c.send("c", b"t" + nasty + b" CAPA" + nasty + b"BILITY\r\n")
    c.send("s", b"* CAPABILITY IMAP4rev1 " + nasty + b"\r\n")
    c.send("s", b"t" + nasty + b" OK " + nasty + b"\r\n")
    c.send("c", b"a1 LOGIN \"u" + nasty.replace(b"\x00", b"") + b"\" pass\r\n")
    c.send("s", b"a1 OK [" + nasty + b"] logged in\r\n")
    c.send("c", b"a2 LOGIN {%d}\r\n" % (len(nasty) + 1))
    c.send("s", b"+ " + nasty + b"\r\n")
    c.send("c", b"u" + nasty + b" pass\r\n")
    c.send("s", b"a2 NO " + nasty + b"\r\n")
    c.send("c", b"a3 SELECT \"box" + nasty.replace(b"\x00", b"") + b"\"\r\n")
    c.send("s", b"* 3 EXISTS\r\na3 OK [READ-WRITE] " + nasty + b"\r\n")
    c.send("c", b"a4 SELECT {%d}\r\n" % (len(nasty) + 3))
    c.send("s", b"+ go\r\n")
    c.send("c", b"box" + nasty + b"\r\n")
    c.send("s", b"a4 OK\r\n")
    c.send("c", b"a5 AUTHENTICATE PLAIN\r\n")
    c.send("s", b"+ \r\n")
    import base64
    c.send("c", base64.b64encode(b"\0user" + nasty + b"\0pw") + b"\r\n")
    c.send("s", b"a5 OK\r\n")
    c.send("c", nasty + b" " + nasty + b"\r\n")
    c.send("s", nasty + b"\r\n")
    c.fin()
    p.close()
    for fmt in ("text", "json"):
        for extra in ([], ["--logins"], ["--summary"]):
            args = ["-F", fmt] + extra + [path]
            case.name = "control bytes " + " ".join(args[:-1])
            res = run(args)
            check_run(case, res, 40, json_lines=fmt == "json")
            rc, lines, _, _, err, _, _ = res
            case.check(rc == 0, f"exit {rc}")
            out = b"".join(lines)
            case.check(out, "no output")
            bad = [b for b in out if (b < 0x20 and b != 0x0A) or b == 0x7F]
            case.check(not bad, f"raw control bytes {sorted(set(bad))} in output")
            try:
                out.decode("utf-8", errors="strict")
            except UnicodeDecodeError as e:
                case.check(False, f"invalid UTF-8 in output: {e}")
            errbad = [b for b in err if (b < 0x20 and b != 0x0A) or b == 0x7F]
            case.check(not errbad, f"raw control bytes {sorted(set(errbad))} on stderr")
    evs = events(run(["-F", "json", "--show-secrets", path])[1])
    users = [e.get("user") for e in evs if e.get("type") == "login"]
    case.name = "control bytes"
    case.check(len(users) >= 3 and all(u for u in users), f"logins lost: {users}")


def case_pending(tmp):
    """100k pipelined commands that are never answered: the pending-tag cap
    forgets the oldest, says so a few times and sums the rest."""
    case = Case("pending flood")
    path = os.path.join(tmp, "pending.pcap")
    p = Pcap(path)
    c = Conn(p)
    greet(c)
    c.send("c", b"".join(b"t%d LOGIN u%d p\r\n" % (i, i) for i in range(100_000)))
    c.fin()
    p.close()
    res = run(["-F", "json", "--summary", path])
    check_run(case, res, 40, notice="more commands forgotten")
    case.check(len(res[4].splitlines()) <= 10, f"{len(res[4].splitlines())} notice lines")


def case_memory_cap(tmp):
    """--max-memory far below what 5000 open sessions need: sessions past it
    are refused with a notice (a few lines, not one per flow)."""
    case = Case("--max-memory")
    path = os.path.join(tmp, "memcap.pcap")
    flood(path, 5000)
    res = run(["-F", "json", "--max-memory", "1000000", path], keep_output=False)
    check_run(case, res, 40, notice="--max-memory")
    case.check(len(res[4].splitlines()) <= 40, f"{len(res[4].splitlines())} notice lines")


def case_memory_flood(tmp):
    """Flows are charged to --max-memory too: a flood under a 4 MB budget and
    the default --max-flows stays small, the oldest flows giving way."""
    case = Case("flow flood under --max-memory")
    path = os.path.join(tmp, "memflood.pcap")
    n = FLOOD_FLOWS // 5
    flood(path, n)
    res = run(["-F", "json", "--max-memory", str(4 * MB), path], keep_output=False)
    # 20 MB: the flow structs alone, uncharged, took 34 MB here before.
    check_run(case, res, 20, notice="the memory budget is spent")
    # every flow is still a session (start, end and, budget allowing, its
    # command): the budget makes old flows give way, it does not hide new ones
    case.check(2 * n <= res[2] <= 4 * n, f"{res[2]} lines for {n} flows")
    case.check(len(res[4].splitlines()) <= 60, f"{len(res[4].splitlines())} notice lines")


def run_generated(case, path, notice, max_notices):
    """Run -F json on a generated capture under the usual checks and a 40 MB
    bound; returns the events."""
    if VERBOSE:
        print(f"  {case.name}: {os.path.getsize(path) // 1024} KB capture")
    res = run(["-F", "json", path])
    check_run(case, res, 40, notice=notice)
    case.check(len(res[4].splitlines()) <= max_notices, f"{len(res[4].splitlines())} notice lines")
    return events(res[1])


def raw_deflate(chunks):
    """Raw DEFLATE (RFC 4978) of the byte strings chunks yields."""
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = bytearray()
    for c in chunks:
        out += z.compress(c)
    out += z.flush(zlib.Z_SYNC_FLUSH)
    return bytes(out)


def case_deflate_bomb(tmp):
    """COMPRESS=DEFLATE whose server side inflates about 700:1 (under the
    1000:1 guard, see test_hostile_transport.py for what is above): a 256 MB
    literal and a 64 MB line without CRLF from a few hundred KB on the wire,
    then a corrupt stream.  Inflated bytes are streamed, never held whole."""
    case = Case("deflate bomb")
    path = os.path.join(tmp, "bomb.pcap")
    lit = 256 if not SAN else 64
    p = Pcap(path)
    c = Conn(p)
    greet(c)
    c.send("c", b"a1 LOGIN u p\r\n")
    c.send("s", b"a1 OK logged in\r\n")
    c.send("c", b"a2 COMPRESS DEFLATE\r\n")
    c.send("s", b"a2 OK DEFLATE active\r\n")
    c.send("c", raw_deflate([b"a3 FETCH 1 BODY[]\r\n"]))
    zero = bytearray(MB)
    zero[::2048] = b"A" * (MB // 2048)      # about 630:1, not 1030:1
    zero = bytes(zero)
    body = raw_deflate([b"* 1 FETCH (BODY[] {%d}\r\n" % (lit * MB)]
                       + [zero] * lit + [b")\r\na3 OK done\r\n",
                                         b"* " + b"A" * (64 * MB)])
    c.send("s", body)
    c.send("s", b"\xff" * 4096)      # not DEFLATE: the direction stops
    c.fin()
    p.close()
    evs = run_generated(case, path, notice="COMPRESS", max_notices=20)
    done = [e for e in evs if e.get("type") == "response" and e.get("tag") == "a3"]
    case.check(len(done) == 1 and done[0].get("status") == "OK",
               "the FETCH after the bomb was not completed")
    case.check(any(e.get("type") == "compress" for e in evs), "no compress event")


def tls_record(ctype, body):
    return struct.pack("!BHH", ctype, 0x0303, len(body)) + body


def client_hello(i):
    body = (b"\x03\x03" + struct.pack("!I", i) + bytes(28) + b"\x00"
            + b"\x00\x02\x13\x01" + b"\x01\x00")
    return b"\x01" + struct.pack("!I", len(body))[1:] + body


def case_tls_flood(tmp):
    """Implicit TLS with a hostile handshake: 20,000 ClientHellos, one
    handshake message announcing 16 MB and sent as 2,000 full records, and
    100,000 one-byte fragments; then undecryptable application data.  The
    handshake buffer stays at its cap and the notices stay few."""
    case = Case("TLS handshake flood")
    path = os.path.join(tmp, "tlsflood.pcap")
    p = Pcap(path)
    c = Conn(p, sport=993)
    c.send("c", b"".join(tls_record(22, client_hello(i)) for i in range(20_000)))
    c.send("c", tls_record(22, b"\x0b\xff\xff\xff" + bytes(16380)))
    filler = tls_record(22, b"\x00" * 16384)
    c.send("c", filler * 2000)
    frag = client_hello(1)
    c.send("c", b"".join(tls_record(22, frag[i % len(frag):i % len(frag) + 1])
                         for i in range(100_000)))
    c.send("s", tls_record(23, os.urandom(16384)) * 200)
    c.fin()
    p.close()
    evs = run_generated(case, path, notice="handshake message over", max_notices=40)
    tls = [e for e in evs if e.get("type") == "tls"]
    case.check(0 < len(tls) <= 100, f"{len(tls)} tls events")


def read_pcap(path):
    """(header, [(sec, usec, frame)]) of a classic pcap."""
    d = open(path, "rb").read()
    out, off = [], 24
    while off + 16 <= len(d):
        sec, usec, cl, _ = struct.unpack("<IIII", d[off:off + 16])
        out.append((sec, usec, d[off + 16:off + 16 + cl]))
        off += 16 + cl
    return d[:24], out


def case_tls_resync_garbage(tmp):
    """A decrypted TLS session whose server side, after a hole, goes on with
    4,000 records of random bytes that look like application data: each was
    tried under 64 sequence numbers (40 times slower than decrypting); now
    the direction is given up after TLS_RESYNC_MAX_CANDIDATES, with a notice,
    and what came before the hole is kept."""
    case = Case("TLS garbage after a gap")
    cap = os.path.join(REPO, "captures", "implicit-ecdhe.pcap")
    keylog = os.path.join(REPO, "captures", "implicit-ecdhe.keylog")
    path = os.path.join(tmp, "tls-garbage.pcap")
    hdr, pkts = read_pcap(cap)
    kept, last = [], None
    for sec, usec, p in pkts:
        t = 14 + (p[14] & 15) * 4
        sport = struct.unpack("!H", p[t:t + 2])[0]
        flags, thl = p[t + 13], (p[t + 12] >> 4) * 4
        if flags & 0x05:
            continue        # no FIN or RST: the garbage must still count
        if sport == 993 and len(p) > t + thl:
            last = (sec, p, t, thl, struct.unpack("!I", p[t + 4:t + 8])[0] + len(p) - t - thl)
        kept.append((sec, usec, p))
    sec, p, t, thl, seq = last
    seq += 1000             # the hole
    rec = b"\x17\x03\x03\x40\x00" + os.urandom(16384)
    nrec = 4000 if not SAN else 500
    for i in range(nrec):
        q = bytearray(p[:t + thl]) + rec
        struct.pack_into("!H", q, 16, len(q) - 14)
        struct.pack_into("!I", q, t + 4, seq & 0xFFFFFFFF)
        seq += len(rec)
        kept.append((sec + 1, i, bytes(q)))
    with open(path, "wb") as f:
        f.write(hdr)
        for sec, usec, q in kept:
            f.write(struct.pack("<IIII", sec, usec, len(q), len(q)) + q)
    res = run(["-F", "json", "-k", keylog, path], keep_output=True)
    check_run(case, res, 40, notice="has no record that decrypts after the gap")
    evs = events(res[1])
    done = [e for e in evs if e.get("type") == "response" and e.get("command") == "LOGOUT"]
    case.check(len(done) == 2, f"{len(done)} LOGOUT completions, want the 2 before the hole")
    s = [e["summary"] for e in evs if e.get("type") == "session_end"]
    case.check(any(x.get("gap_bytes", 0) >= nrec * len(rec) for x in s),
               f"the garbage is not counted as lost: {s}")


def main():
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for f in (case_huge_literal, case_nesting, case_endless_line, case_ooo, case_ooo_tiny,
                  case_control_bytes, case_pending, case_memory_cap, case_memory_flood,
                  case_deflate_bomb, case_tls_flood, case_tls_resync_garbage, case_flood):
            t1 = time.monotonic()
            f(tmp)
            if VERBOSE:
                print(f"  {f.__name__}: {time.monotonic() - t1:.1f} s")
    secs = time.monotonic() - t0
    if Case.failures:
        print(f"test_hostile: {Case.failures} failures ({secs:.0f} s)")
        sys.exit(1)
    print(f"test_hostile: all hostile inputs handled ({secs:.0f} s{', sanitizer build' if SAN else ''})")


if __name__ == "__main__":
    main()
