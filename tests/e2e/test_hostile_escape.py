#!/usr/bin/env python3
"""Invisible and format characters from the wire (issue 15, item 6): a
generated capture whose user names, mailbox names and server texts carry
each of them, and invalid UTF-8 beside the real character it could be taken
for (byte 0xff and "ÿ").

Checked in every output: the text timeline, --logins and --summary show
none of them raw (each as \\u{X}); -F json of the same, read by a strict
JSON parser, gives string values without them (so jq -r prints no raw
control), and the value for byte 0xff differs from the one for "ÿ".  Also:
src/util/escape_table.c is what scripts/gen_escape_table.py writes, when
this Python's Unicode version is the table's."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_hostile import Conn, Pcap  # noqa: E402  (the pcap writer)

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO", os.path.join(os.path.dirname(__file__), "..", ".."))

# The code points issue 15 names, and their neighbours in each class.
HIDDEN = [0x061C, 0x00AD, 0x3164, 0xE0041, 0x180E, 0x034F, 0xFFF9, 0x009B, 0x202E,
          0x0085, 0x115F, 0x1160, 0xFFA0, 0xFE0F, 0xE0100, 0xE007F, 0x180B, 0x2800,
          0x17B4, 0x200B, 0x200D, 0x200E, 0x2066, 0x2069, 0x2060, 0x2064, 0xFEFF,
          0x2028, 0x2029, 0xE000, 0x10FFFD, 0xFFFF, 0x0378]

failures = 0


def check(ok, msg):
    global failures
    if not ok:
        failures += 1
        print(f"FAIL: {msg}")


def hidden_char(c):
    """What no output may show raw: the classes of escape.h."""
    cp = ord(c)
    if c in "\n":
        return False
    if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co") and cp != 0x0A:
        return True
    return cp in HIDDEN


def build(path):
    p = Pcap(path)
    c = Conn(p, cport=41000)
    c.send("s", b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
    for i, cp in enumerate(HIDDEN):
        ch = chr(cp).encode()
        c.send("c", b"a%d LOGIN admin%s pw%d\r\n" % (i, ch, i))
        c.send("s", b"a%d NO [AUTHENTICATIONFAILED] no admin%s\r\n" % (i, ch))
    # Byte 0xff, then the character U+00FF, in a user name.
    c.send("c", b"b1 LOGIN caf\xff pw\r\n")
    c.send("s", b"b1 NO bad\r\n")
    c.send("c", b"b2 LOGIN caf\xc3\xbf pw\r\n")
    c.send("s", b"b2 OK logged in\r\n")
    for i, cp in enumerate(HIDDEN):
        c.send("c", b"m%d SELECT \"INBOX%s\"\r\n" % (i, chr(cp).encode()))
        c.send("s", b"m%d OK [READ-WRITE] done%s\r\n" % (i, chr(cp).encode()))
    # A fetched body: the --extract index names its mailbox.
    c.send("c", b"f0 SELECT \"Box\xe2\x80\xae\xff\"\r\n")
    c.send("s", b"f0 OK done\r\n")
    c.send("c", b"f1 FETCH 1 BODY[]\r\n")
    c.send("s", b"* 1 FETCH (BODY[] {5}\r\nhello)\r\nf1 OK done\r\n")
    c.send("c", b"z LOGOUT\r\n")
    c.send("s", b"* BYE\r\nz OK bye\r\n")
    c.fin()
    # Not IMAP: the notice quotes the line, escaped once.
    n = Conn(p, cport=41001)
    n.send("s", b"* OK ready\r\n")
    n.send("c", b"\x1b[2J\\x41 \xe2\x80\xae \xff\r\n")
    n.fin()
    p.close()


def run(args):
    r = subprocess.run([IMAPSCOPE] + args, capture_output=True, timeout=120)
    check(r.returncode == 0, f"{args}: exit {r.returncode}: {r.stderr[-300:]!r}")
    return r.stdout


def check_text(name, out):
    s = out.decode("utf-8", "surrogateescape")
    bad = sorted({f"U+{ord(c):04X}" for c in s if hidden_char(c) or 0xDC80 <= ord(c) <= 0xDCFF})
    check(not bad, f"{name}: raw {', '.join(bad)} in the output")
    return s


def strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from strings(x)


def check_json(name, out):
    s = check_text(name, out)
    objs = []
    for n, line in enumerate(s.split("\n")[:-1], 1):
        try:
            objs.append(json.loads(line, parse_constant=lambda c: 1 / 0))
        except (ValueError, ZeroDivisionError) as e:
            check(False, f"{name} line {n}: not strict JSON ({e}): {line[:200]!r}")
            continue
    bad = sorted({f"U+{ord(c):04X}" for o in objs for t in strings(o) for c in t if hidden_char(c)})
    check(not bad, f"{name}: parsed values hold {', '.join(bad)}")
    return objs


def logins_users(objs):
    return [o.get("user") for o in objs if o.get("type") == "login"]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "hidden.pcap")
        build(cap)

        text = check_text("timeline", run([cap]))
        for cp in (0x3164, 0xE0041, 0x202E, 0x009B):
            check(f"admin\\u{{{cp:04x}}}" in text, f"timeline: no admin\\u{{{cp:04x}}}")
        check("caf\\xff" in text and "caf\u00ff" in text, "timeline: 0xff and ÿ not both shown")
        quote = '"\\x1b[2J\\x5cx41 \\u{202e} \\xff\\x0d\\x0a"'
        check(any("NOTICE" in ln and quote in ln for ln in text.split("\n")),
              f"timeline: no NOTICE quoting {quote} (escaped once)")
        check_text("--logins", run(["--logins", cap]))
        check_text("--summary", run(["--summary", cap]))

        evs = check_json("-F json", run(["-F", "json", cap]))
        users = logins_users(evs)
        check(len(users) == len(HIDDEN) + 2, f"{len(users)} logins, want {len(HIDDEN) + 2}")
        check("admin\\u{3164}" in users, f"no user admin\\u{{3164}} in {users[:5]}")
        check("caf\\xff" in users and "caf\u00ff" in users,
              f"byte 0xff and ÿ not told apart: {users[-2:]}")
        notes = [o.get("text", "") for o in evs if o.get("type") == "notice"]
        check(any(quote in t for t in notes), f"JSON notices do not quote {quote}: {notes}")
        check_json("--logins -F json", run(["--logins", "-F", "json", cap]))
        check_json("--summary -F json", run(["--summary", "-F", "json", cap]))

        xdir = os.path.join(tmp, "x")
        run(["--extract", xdir, "-q", cap])
        idx = os.path.join(xdir, "index.jsonl")
        with open(idx, "rb") as f:
            rows = check_json("--extract index", f.read())
        boxes = [r.get("mailbox") for r in rows]
        check(boxes == ["Box\\u{202e}\\xff"], f"--extract index mailboxes: {boxes}")

    check_table()
    if failures:
        print(f"test_hostile_escape: {failures} failures")
        sys.exit(1)
    print(f"test_hostile_escape: {len(HIDDEN)} hidden characters escaped in every output")


def check_table():
    """The committed table is what the generator writes, when the Unicode
    versions agree (another Python may know another version)."""
    path = os.path.join(REPO, "src", "util", "escape_table.c")
    with open(path) as f:
        have = f.read()
    m = re.search(r'escape_unicode_version\[\] = "([0-9.]+)"', have)
    check(m is not None, "escape_table.c names no Unicode version")
    if m is None or m.group(1) != unicodedata.unidata_version:
        print(f"skip: table freshness (table is Unicode {m and m.group(1)}, "
              f"this Python has {unicodedata.unidata_version})")
        return
    gen = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "gen_escape_table.py")],
                         capture_output=True, text=True, check=True).stdout
    check(gen == have, "src/util/escape_table.c differs from scripts/gen_escape_table.py output")


if __name__ == "__main__":
    main()
