#!/usr/bin/env python3
"""--streams DIR, --extract DIR and -o FILE in a folder someone else can
write to, or that an earlier run filled (issue 14 item 4, issue 15 items 2
and 3).

- A folder that is not empty is refused (exit 2, one line); --force removes
  only what the earlier run's index.jsonl lists, and the index; a listed name
  that is a path, or a file of ours that the index does not list, is never
  touched.
- A symbolic link planted where an output file goes is an error naming it
  (exit 2), before the run or during it, and its target is untouched.
- Folders are made 0700, the files in them and -o with --show-secrets 0600.
- 20,000 sessions open at once all get their streams; 3,000 bodies in flight
  at once under `ulimit -n 256` are all extracted, exit 0.

Captures are generated with the pcap writer of test_hostile.py.  Env:
IMAPSCOPE (binary), REPO (root)."""
import hashlib
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_hostile import Conn, Pcap  # noqa: E402

IMAPSCOPE = os.environ.get("IMAPSCOPE", "./imapscope")
REPO = os.environ.get("REPO", ".")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)
    return cond


class MemPcap(Pcap):
    """The same writer into memory, for captures fed through a pipe."""

    def __init__(self):
        self.f = io.BytesIO()
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.us = 1_700_000_000 * 1_000_000

    def take(self):
        data = self.f.getvalue()
        self.f.seek(0)
        self.f.truncate()
        return data


LETTERS = bytes(range(65, 91)) * 1000


def body(i, size):
    head = b"Subject: body %d\r\n\r\n" % i
    return head + LETTERS[i % 26:i % 26 + size - len(head)]


def session(p, i, port=None, client=(10, 0, 0, 1)):
    """A login, a fetched body and an appended one."""
    c = Conn(p, cport=port or 40000 + i, client=client)
    c.send("s", b"* OK IMAP4rev1 ready\r\n")
    c.send("c", b"a1 LOGIN alice secret%d\r\n" % i)
    c.send("s", b"a1 OK done\r\n")
    b = body(i, 300)
    c.send("c", b"a2 FETCH 1 (BODY[])\r\n")
    c.send("s", b"* 1 FETCH (BODY[] {%d}\r\n" % len(b) + b + b")\r\na2 OK done\r\n")
    c.fin()


def write_capture(path, first, n):
    p = Pcap(path)
    for i in range(first, first + n):
        session(p, i)
    p.close()


def run(*args, stdin=None):
    return subprocess.run([IMAPSCOPE, "-q", *args], input=stdin, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)


def one_line(r):
    lines = r.stderr.decode(errors="replace").splitlines()
    return len(lines) == 1 and lines[0].startswith("imapscope: ")


def index_files(d):
    names = set()
    with open(os.path.join(d, "index.jsonl")) as f:
        for line in f:
            o = json.loads(line)
            if "file" in o:
                names.add(o["file"])
            for k in ("c2s", "s2c"):
                if k in o and o[k].get("file"):
                    names.add(o[k]["file"])
    return names


def case_reuse(tmp):
    cap_a, cap_b = os.path.join(tmp, "a.pcap"), os.path.join(tmp, "b.pcap")
    write_capture(cap_a, 1, 3)
    write_capture(cap_b, 7, 1)
    for opt in ("--streams", "--extract"):
        d = os.path.join(tmp, "reuse" + opt)
        r = run(opt, d, cap_a)
        check(r.returncode == 0, f"{opt}: first run: exit {r.returncode} {r.stderr!r}")
        before = sorted(os.listdir(d))
        r = run(opt, d, cap_b)
        check(r.returncode == 2 and one_line(r) and b"not empty" in r.stderr and
              b"--force" in r.stderr, f"{opt}: a reused folder is refused: {r.returncode} "
              f"{r.stderr!r}")
        check(sorted(os.listdir(d)) == before, f"{opt}: a refused run changed the folder")

        # --force: the old run's files go, a file of someone else's stays
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("mine")
        r = run(opt, d, "--force", cap_b)
        check(r.returncode == 0, f"{opt} --force: exit {r.returncode} {r.stderr!r}")
        left = set(os.listdir(d)) - {"notes.txt", "index.jsonl"}
        check(left == index_files(d) and left, f"{opt} --force: the folder holds only the "
              f"new run's files: {sorted(left)} vs {sorted(index_files(d))}")
        check(open(os.path.join(d, "notes.txt")).read() == "mine",
              f"{opt} --force: a foreign file was touched")

        # a file of ours that the index does not list: not removed, refused
        stray = os.path.join(d, "session-000099-c2s.bin" if opt == "--streams"
                             else "a" * 64 + ".eml")
        with open(stray, "w") as f:
            f.write("not listed")
        r = run(opt, d, "--force", cap_b)
        check(r.returncode == 2 and one_line(r) and os.path.basename(stray).encode() in r.stderr,
              f"{opt} --force: an unlisted file of ours is named, exit 2: {r.stderr!r}")
        check(open(stray).read() == "not listed", f"{opt} --force: an unlisted file was removed")


def case_hostile_index(tmp):
    """An old index is input: names with paths, .., and links are not followed."""
    cap = os.path.join(tmp, "h.pcap")
    write_capture(cap, 1, 1)
    outside = os.path.join(tmp, "outside.eml")
    victim_name = "b" * 64 + ".eml"
    victim = os.path.join(tmp, victim_name)
    for path in (outside, victim):
        with open(path, "w") as f:
            f.write("precious")
    d = os.path.join(tmp, "hostile-index")
    os.mkdir(d)
    with open(os.path.join(d, "index.jsonl"), "w") as f:
        for name in ("../outside.eml", outside, "../" + victim_name, "sub/" + victim_name,
                     ".." , "/", "x/../../" + victim_name):
            f.write(json.dumps({"file": name}) + "\n")
    r = run("--extract", d, "--force", cap)
    check(r.returncode == 0, f"hostile index: exit {r.returncode} {r.stderr!r}")
    for path in (outside, victim):
        check(os.path.exists(path) and open(path).read() == "precious",
              f"hostile index: {path} was touched")

    # a listed name that is a link: an error naming it; link and target stay
    d = os.path.join(tmp, "listed-link")
    os.mkdir(d)
    link = os.path.join(d, "session-000001-c2s.bin")
    os.symlink(victim, link)
    with open(os.path.join(d, "index.jsonl"), "w") as f:
        f.write(json.dumps({"session": 1, "c2s": {"file": "session-000001-c2s.bin"}}) + "\n")
    r = run("--streams", d, "--force", cap)
    check(r.returncode == 2 and one_line(r) and b"session-000001-c2s.bin" in r.stderr and
          b"symbolic link" in r.stderr, f"listed link: exit 2 naming it: {r.stderr!r}")
    check(os.path.islink(link) and open(victim).read() == "precious",
          "listed link: the link or its target changed")

    # the index itself a link: not read through, not removed
    d = os.path.join(tmp, "index-link")
    os.mkdir(d)
    os.symlink(victim, os.path.join(d, "index.jsonl"))
    r = run("--extract", d, "--force", cap)
    check(r.returncode == 2 and one_line(r) and b"index.jsonl" in r.stderr,
          f"index link: exit 2 naming it: {r.stderr!r}")
    check(open(victim).read() == "precious", "index link: target changed")


def case_planted_before(tmp):
    cap = os.path.join(tmp, "p.pcap")
    write_capture(cap, 1, 1)
    target = os.path.join(tmp, "target")
    sha = hashlib.sha256(body(1, 300)).hexdigest()
    for opt, name in (("--streams", "session-000001-c2s.bin"), ("--streams", "index.jsonl"),
                      ("--extract", "index.jsonl"), ("--extract", sha + ".eml")):
        with open(target, "w") as f:
            f.write("precious")
        d = os.path.join(tmp, "planted" + opt + name[:8])
        os.mkdir(d)
        os.symlink(target, os.path.join(d, name))
        for extra in ((), ("--force",)):
            r = run(opt, d, *extra, cap)
            check(r.returncode == 2 and one_line(r) and name.encode() in r.stderr,
                  f"{opt} {' '.join(extra)}: planted {name}: exit 2 naming it: "
                  f"{r.returncode} {r.stderr!r}")
            check(open(target).read() == "precious", f"{opt}: planted {name}: target written")

    # DIR itself a link
    real = os.path.join(tmp, "real")
    os.mkdir(real)
    os.symlink(real, os.path.join(tmp, "dirlink"))
    r = run("--streams", os.path.join(tmp, "dirlink"), cap)
    check(r.returncode == 2 and one_line(r) and b"symbolic link" in r.stderr,
          f"DIR a link: exit 2: {r.stderr!r}")
    check(os.listdir(real) == [], "DIR a link: written through")

    # -o through a link
    with open(target, "w") as f:
        f.write("precious")
    link = os.path.join(tmp, "out-link")
    os.symlink(target, link)
    r = run("-o", link, cap)
    check(r.returncode == 2 and one_line(r) and b"out-link" in r.stderr,
          f"-o link: exit 2 naming it: {r.stderr!r}")
    check(open(target).read() == "precious", "-o link: target written")


def case_planted_during(tmp):
    """Links planted while the run goes (the capture comes through a pipe,
    session 2 only after session 1's files exist): an error line naming the
    path, exit 2, the other files written, the targets untouched."""
    p = MemPcap()
    session(p, 1)
    first = p.take()
    session(p, 2, port=40002)
    second = p.take()
    sha2 = hashlib.sha256(body(2, 300)).hexdigest()
    for opt, wait_for, name in (("--streams", "session-000001-s2c.bin", "session-000002-c2s.bin"),
                                ("--extract", hashlib.sha256(body(1, 300)).hexdigest() + ".eml",
                                 sha2 + ".eml")):
        target = os.path.join(tmp, "target-during")
        with open(target, "w") as f:
            f.write("precious")
        d = os.path.join(tmp, "during" + opt)
        pr = subprocess.Popen([IMAPSCOPE, "-q", "-F", "json", opt, d, "-r", "-"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        pr.stdin.write(first)
        pr.stdin.flush()
        t0 = time.monotonic()
        while not os.path.exists(os.path.join(d, wait_for)) and time.monotonic() - t0 < 60:
            time.sleep(0.02)
        os.symlink(target, os.path.join(d, name))
        pr.stdin.write(second)
        pr.stdin.close()
        err = pr.stderr.read()
        rc = pr.wait()
        check(rc == 2 and err.count(b"\n") == 1 and name.encode() in err,
              f"{opt}: planted during the run: exit 2 naming it: {rc} {err!r}")
        check(open(target).read() == "precious", f"{opt}: planted during the run: written through")
        lines = [json.loads(x) for x in open(os.path.join(d, "index.jsonl"))]
        if opt == "--streams":
            check(len(lines) == 2 and lines[1]["c2s"]["file"] is None and
                  lines[1]["c2s"]["failed"] and lines[1]["s2c"]["file"],
                  f"--streams: the failed stream is marked in the index: {lines}")
        else:
            check([x["session"] for x in lines] == [1],
                  f"--extract: the body not written is not indexed: {lines}")


def case_modes(tmp):
    cap = os.path.join(tmp, "m.pcap")
    write_capture(cap, 1, 1)
    old = os.umask(0o022)
    try:
        for opt in ("--streams", "--extract"):
            d = os.path.join(tmp, "modes" + opt)
            r = run(opt, d, cap)
            check(r.returncode == 0, f"{opt}: exit {r.returncode}")
            check(stat.S_IMODE(os.stat(d).st_mode) == 0o700, f"{opt}: folder not 0700")
            for name in os.listdir(d):
                mode = stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode)
                check(mode == 0o600, f"{opt}: {name} is {oct(mode)}, not 0600")
        out = os.path.join(tmp, "secrets.txt")
        with open(out, "w") as f:
            f.write("old")
        os.chmod(out, 0o644)
        r = run("--show-secrets", "-o", out, cap)
        check(r.returncode == 0 and stat.S_IMODE(os.stat(out).st_mode) == 0o600,
              f"-o with --show-secrets: made 0600: {oct(os.stat(out).st_mode)}")
        check(b"secret1" in open(out, "rb").read(), "-o with --show-secrets: the password")
        out2 = os.path.join(tmp, "plain.txt")
        r = run("-o", out2, cap)
        check(stat.S_IMODE(os.stat(out2).st_mode) == 0o644, "-o without secrets: umask's mode")
    finally:
        os.umask(old)

    r = run("--streams", os.path.join(tmp, "same"), "--extract", os.path.join(tmp, "same/"), cap)
    check(r.returncode == 2 and one_line(r), f"the same folder twice: exit 2 {r.stderr!r}")


def case_many_streams(tmp, n=20000):
    """n sessions open at once: each greets and sends, none ends before the
    last has begun.  Every stream is written, byte for byte."""
    cap = os.path.join(tmp, "open.pcap")
    p = Pcap(cap)
    conns = []
    for i in range(n):
        c = Conn(p, cport=10000 + i % 50000, client=(10, 1, (i >> 8) & 255, i & 255))
        c.send("s", b"* OK ready %d\r\n" % i)
        c.send("c", b"a%d NOOP\r\n" % i)
        conns.append(c)
    for i, c in enumerate(conns):
        c.send("s", b"a%d OK done\r\n" % i)
        c.fin()
    p.close()
    d = os.path.join(tmp, "many")
    r = run("-F", "json", "--streams", d, cap)
    check(r.returncode == 0, f"{n} open sessions: exit {r.returncode} {r.stderr[-300:]!r}")
    lines = [json.loads(x) for x in open(os.path.join(d, "index.jsonl"))]
    check(len(lines) == n, f"{n} open sessions: {len(lines)} index lines")
    bad = 0
    for o in lines:
        i = o["session"] - 1
        want = {"c2s": b"a%d NOOP\r\n" % i, "s2c": b"* OK ready %d\r\na%d OK done\r\n" % (i, i)}
        for k in ("c2s", "s2c"):
            with open(os.path.join(d, o[k]["file"]), "rb") as f:
                bad += f.read() != want[k]
    check(bad == 0, f"{n} open sessions: {bad} streams differ")
    shutil.rmtree(d)


def case_many_bodies(tmp, n=3000, size=17000, first=16500):
    """n FETCH literals in flight at once, each past the in-memory buffer
    (so each has a file), under ulimit -n 256: all written, exit 0."""
    cap = os.path.join(tmp, "bodies.pcap")
    p = Pcap(cap)
    conns = []
    for i in range(n):
        c = Conn(p, cport=10000 + i, client=(10, 2, (i >> 8) & 255, i & 255))
        c.send("s", b"* OK ready\r\n")
        c.send("c", b"a1 FETCH 1 (BODY[])\r\n")
        c.send("s", b"* 1 FETCH (BODY[] {%d}\r\n" % size + body(i, size)[:first])
        conns.append(c)
    for i, c in enumerate(conns):
        c.send("s", body(i, size)[first:] + b")\r\na1 OK done\r\n")
        c.fin()
    p.close()
    d = os.path.join(tmp, "bodies")
    r = subprocess.run(["bash", "-c", 'ulimit -n 256 && exec "$0" -q -F json --extract "$1" "$2"',
                        IMAPSCOPE, d, cap], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    check(r.returncode == 0, f"{n} bodies in flight: exit {r.returncode} {r.stderr[-300:]!r}")
    lines = [json.loads(x) for x in open(os.path.join(d, "index.jsonl"))]
    check(len(lines) == n and all(x["complete"] for x in lines),
          f"{n} bodies in flight: {len(lines)} indexed")
    bad = 0
    for o in lines:
        with open(os.path.join(d, o["file"]), "rb") as f:
            bad += f.read() != body(o["session"] - 1, size)
    check(bad == 0, f"{n} bodies in flight: {bad} differ")
    check(not any(x.startswith(".") for x in os.listdir(d)), "temporary files left behind")
    shutil.rmtree(d)


def case_output_order(tmp):
    """-o is not truncated when a folder is refused; a full disk is exit 2
    with the reason."""
    d = os.path.join(tmp, "order")
    os.makedirs(d)
    open(os.path.join(d, "foreign"), "w").close()
    out = os.path.join(tmp, "order.out")
    with open(out, "w") as f:
        f.write("kept\n")
    r = run("-o", out, "--streams", d, os.path.join(REPO, "captures", "demo.pcap"))
    check(r.returncode == 2, "refused folder: exit %d" % r.returncode)
    check(open(out).read() == "kept\n", "-o was truncated before the folder was refused")
    if os.path.exists("/dev/full"):
        r = run("-o", "/dev/full", os.path.join(REPO, "captures", "demo.pcap"))
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 2 and "No space left" in err,
              "-o /dev/full: exit %d, %r" % (r.returncode, err))


def main():
    with tempfile.TemporaryDirectory(prefix="imapscope-outdir-") as tmp:
        for f in (case_reuse, case_hostile_index, case_planted_before, case_planted_during,
                  case_modes, case_output_order, case_many_bodies, case_many_streams):
            f(tmp)
    print("hostile_outdir:", "all checks passed" if not failures else f"{len(failures)} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
