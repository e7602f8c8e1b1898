#!/usr/bin/env python3
"""--write-keys-pcapng: the written pcapng carries the key log lines its TLS
sessions used in a Decryption Secrets Block, so tshark decrypts it with no
-o tls.keylog_file; only the lines of client randoms in the capture are in
it; every packet is the input's (time, lengths, bytes); the interfaces of
several inputs follow one another in one section; capinfos and editcap read
it; what cannot be read twice is refused with exit 2 and one line."""
import os
import random
import shutil
import stat
import struct
import subprocess
import sys
import tempfile

from public import public_dir, skip

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ["REPO"]
CAPS = os.path.join(REPO, "captures")
KEYED = ["starttls13", "implicit-ecdhe", "compress-tls", "curl"]
DSB, SHB, IDB = 0x0A, 0x0A0D0D0A, 1
TLSK = 0x544C534B
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL: " + what)


def cap(name):
    return os.path.join(CAPS, name)


def run(args, **kw):
    return subprocess.run([IMAPSCOPE] + args, capture_output=True, **kw)


def tshark(args):
    r = subprocess.run(["tshark"] + args, capture_output=True)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def requests(pcap, keylog=None):
    """imap.request lines as tshark sees them (no key log unless given)."""
    args = ["-r", pcap, "-Y", "imap", "-T", "fields", "-e", "imap.request"]
    if keylog:
        args += ["-o", "tls.keylog_file:" + keylog]
    rc, out, _ = tshark(args)
    assert rc == 0, pcap
    return [l for l in out.splitlines() if l.strip()]


def blocks(path):
    """(type, body) of each block of a little-endian pcapng file."""
    d = open(path, "rb").read()
    out, o = [], 0
    while o < len(d):
        t, n = struct.unpack_from("<II", d, o)
        out.append((t, d[o + 8:o + n - 4]))
        o += n
    return out


def dsb_lines(path):
    out = []
    for t, body in blocks(path):
        if t == DSB:
            typ, n = struct.unpack_from("<II", body)
            check(typ == TLSK, "%s: secrets type %#x" % (path, typ))
            out += body[8:8 + n].decode().splitlines()
    return out


def imapscope_commands(pcap, keylog):
    import json
    r = run(["-q", "-F", "json", "-k", keylog, pcap], check=True)
    return [(e["tag"], e["command"]) for e in map(json.loads, r.stdout.decode().splitlines())
            if e["type"] == "command"]


def frames(pcap):
    """Every packet's time, lengths, interface link type and bytes' hash."""
    rc, out, _ = tshark(["-r", pcap, "-o", "frame.generate_md5_hash:TRUE", "-T", "fields",
                         "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len",
                         "-e", "frame.md5_hash", "-e", "frame.encap_type"])
    assert rc == 0, pcap
    return out.splitlines()


def write(tmp, inputs, keylogs, name="out.pcapng", extra=()):
    out = os.path.join(tmp, name)
    args = ["-q"] + [a for k in keylogs for a in ("-k", k)]
    r = run(args + ["--write-keys-pcapng", out] + list(extra) + inputs)
    return r, out


def test_decrypts(tmp):
    """tshark with no key log sees in the written file what it sees in the
    original with the key log, and the commands imapscope sees (tshark does
    not inflate COMPRESS: compress-tls is compared up to it)."""
    for name in KEYED:
        pcap, keylog = cap(name + ".pcap"), cap(name + ".keylog")
        r, out = write(tmp, [pcap], [keylog], name + ".pcapng")
        check(r.returncode == 0 and r.stdout != b"", "%s: exit %d" % (name, r.returncode))
        check(stat.S_IMODE(os.stat(out).st_mode) == 0o600, "%s: not 0600" % name)
        got, want = requests(out), requests(pcap, keylog)
        check(got == want, "%s: tshark sees %d requests, with the key log %d" % (
            name, len(got), len(want)))
        check(len(requests(pcap)) < len(got), "%s: the secrets decrypt nothing" % name)
        ours = imapscope_commands(pcap, keylog)
        if name == "compress-tls":
            ours = ours[:[c for _, c in ours].index("COMPRESS") + 1]
        tags = {t for t, _ in ours}
        theirs = [l for l in got if l.split()[0] in tags]
        check(len(theirs) == len(ours) and all(
            l.upper().startswith((t + " " + c).upper()) for l, (t, c) in zip(theirs, ours)),
            "%s: tshark's commands %s, imapscope's %s" % (name, theirs[:5], ours[:5]))
        check(frames(out) == frames(pcap), "%s: packets differ" % name)


def client_randoms(pcap):
    rc, out, _ = tshark(["-r", pcap, "-Y", "tls.handshake.type == 1", "-T", "fields",
                         "-e", "tls.handshake.random"])
    assert rc == 0
    return {l.replace(":", "").lower() for l in out.split() if l}


def test_only_used_lines(tmp):
    """A key log with lines of other captures and made-up randoms: the block
    holds only lines of client randoms in this capture's ClientHellos, each
    one a line of the key log, and every such random the key log has."""
    rnd = random.Random(20)
    made_up = ["%s %064x %096x" % (lab, rnd.getrandbits(256), rnd.getrandbits(384))
               for lab in ("CLIENT_RANDOM", "CLIENT_TRAFFIC_SECRET_0") for _ in range(20)]
    logs = [open(cap(n + ".keylog")).read().splitlines() for n in KEYED]
    mixed = os.path.join(tmp, "mixed.keylog")
    with open(mixed, "w") as f:
        f.write("\n".join(made_up[:20] + logs[0] + logs[3] + logs[1] + made_up[20:]) + "\n")
    r, out = write(tmp, [cap("curl.pcap")], [mixed], "mixed.pcapng")
    check(r.returncode == 0, "mixed key log: exit %d" % r.returncode)
    lines = dsb_lines(out)
    randoms = client_randoms(cap("curl.pcap"))
    keylog = {" ".join(l.split()).lower() for l in logs[3] if l and not l.startswith("#")}
    used = {l.split()[1] for l in lines}
    check(lines != [] and used <= randoms, "secrets of randoms not in the capture: %s" % (
        used - randoms))
    check(all(l.lower() in keylog for l in lines), "a line that is not curl.keylog's")
    check(not any(l.split()[1] in {m.split()[1] for m in made_up} for l in lines),
          "a made-up line was written")
    logged = {l.split()[1].lower() for l in logs[3] if len(l.split()) == 3}
    check(randoms & logged == used, "randoms of the capture with keys %d, written %d" % (
        len(randoms & logged), len(used)))
    check(requests(out) == requests(cap("curl.pcap"), cap("curl.keylog")),
          "mixed key log: tshark does not decrypt curl.pcap")


def test_formats(tmp):
    """Nanosecond pcap and pcapng inputs: packets unchanged, pcapng
    interfaces (and their options) kept byte for byte."""
    key = cap("starttls13.keylog")
    for name in ("formats-nano.pcap", "formats-dumpcap.pcapng"):
        r, out = write(tmp, [cap(name)], [key], name + ".out")
        check(r.returncode == 0, "%s: exit %d" % (name, r.returncode))
        check(frames(out) == frames(cap(name)), "%s: packets differ" % name)
    r = run(["-k", key, "--write-keys-pcapng", os.path.join(tmp, "n.pcapng"),
             cap("formats.pcap")])
    err = r.stderr.decode()
    check(r.returncode == 0 and "no session's keys" in err and err.count("\n") == 1,
          "no key used: %r" % err)
    check(dsb_lines(os.path.join(tmp, "n.pcapng")) == [], "secrets with no key used")
    src = [b for b in blocks(cap("formats-dumpcap.pcapng")) if b[0] != SHB]
    got = [b for b in blocks(os.path.join(tmp, "formats-dumpcap.pcapng.out"))
           if b[0] not in (SHB, DSB)]
    check(src == got, "formats-dumpcap.pcapng: blocks not copied as they were")
    pub = public_dir()
    if pub is None:
        skip("the lekensteyn pcapng copied")
        return
    lek, lkey = os.path.join(pub, "lekensteyn-imap-ssl.pcapng"), \
        os.path.join(pub, "lekensteyn-imap-ssl.keylog")
    r, out = write(tmp, [lek], [lkey], "lek.pcapng")
    check(r.returncode == 0, "lekensteyn: exit %d" % r.returncode)
    check(requests(out) == requests(lek, lkey) and requests(out) != requests(lek),
          "lekensteyn pcapng: not decrypted from the block")
    src = [b for b in blocks(lek) if b[0] != SHB]
    got = [b for b in blocks(out) if b[0] not in (SHB, DSB)]
    check(src == got, "lekensteyn pcapng: blocks not copied as they were")
    first = blocks(out)
    check([t for t, _ in first[:3]] == [SHB, DSB, IDB], "block order %s" % first[:3])
    check(first[0][1][8:16] == b"\xff" * 8, "section length not set to -1")
    check(first[0][1][16:] == blocks(lek)[0][1][16:], "the input's section header options lost")


def test_several_inputs(tmp):
    """Several inputs, link types differing: one section, one interface per
    pcap input (pcapng ones keep theirs), every packet in order."""
    ng = os.path.join(tmp, "commands.pcapng")	# not formats-*: the same flow again
    subprocess.run(["editcap", "-F", "pcapng", cap("commands.pcap"), ng], capture_output=True,
                   check=True)
    ins = [cap("formats-any.pcap"), cap("starttls13.pcap"), ng]
    r, out = write(tmp, ins, [cap("starttls13.keylog")], "multi.pcapng")
    check(r.returncode == 0, "several inputs: exit %d" % r.returncode)
    check(frames(out) == sum((frames(i) for i in ins), []), "several inputs: packets differ")
    check([t for t, _ in blocks(out)].count(SHB) == 1, "several sections")
    rc, info, err = tshark_tool(["capinfos", out])
    check(rc == 0 and err == "", "capinfos: %d %s" % (rc, err))
    n_ifs = sum(1 for i in ins[:2]) + [t for t, _ in blocks(ins[2])].count(IDB)
    check("Number of interfaces in file: %d" % n_ifs in info, "capinfos interfaces:\n" + info)
    want = requests(ins[0]) + requests(ins[1], cap("starttls13.keylog")) + requests(ins[2])
    check(requests(out) == want and len(want) > len(requests(ins[1])),
          "several inputs: not decrypted")


def tshark_tool(argv):
    r = subprocess.run(argv, capture_output=True)
    err = "\n".join(l for l in r.stderr.decode().splitlines() if "as user \"root\"" not in l
                    and "could be dangerous" not in l)
    return r.returncode, r.stdout.decode(), err


def test_tools_read_it(tmp):
    """capinfos reads it without complaint; editcap rewrites it whenever it
    rewrites its own --inject-secrets output for the same capture (editcap
    4.0 rewrites no file with secrets in it, so then it must fail the same
    way and rewrite the same file with the secrets block taken out)."""
    pcap, keylog = cap("starttls13.pcap"), cap("starttls13.keylog")
    r, ours = write(tmp, [pcap], [keylog], "tools.pcapng")
    rc, info, err = tshark_tool(["capinfos", ours])
    check(rc == 0 and err == "" and "Number of packets:   40" in info,
          "capinfos: %d %s" % (rc, err))
    rc, _, err = tshark_tool(["tshark", "-r", ours])
    check(rc == 0 and err == "", "tshark -r: %s" % err)
    theirs = os.path.join(tmp, "inject.pcapng")
    subprocess.run(["editcap", "--inject-secrets", "tls," + keylog, pcap, theirs],
                   capture_output=True, check=True)
    check(dsb_lines(theirs)[1:] != [] and set(dsb_lines(ours)) <=
          {" ".join(l.split()) for l in dsb_lines(theirs)}, "not editcap's secrets")
    rc_theirs, _, err_theirs = tshark_tool(["editcap", theirs, os.path.join(tmp, "e1")])
    rc_ours, _, err_ours = tshark_tool(["editcap", ours, os.path.join(tmp, "e2")])
    check((rc_ours, err_ours) == (rc_theirs, err_theirs.replace(theirs, ours)),
          "editcap: ours %d %r, its own %d %r" % (rc_ours, err_ours, rc_theirs, err_theirs))
    if rc_theirs != 0:
        bare = os.path.join(tmp, "bare.pcapng")
        d = open(ours, "rb").read()
        with open(bare, "wb") as f:
            o = 0
            while o < len(d):
                t, n = struct.unpack_from("<II", d, o)
                if t != DSB:
                    f.write(d[o:o + n])
                o += n
        rc, _, err = tshark_tool(["editcap", bare, os.path.join(tmp, "e3")])
        check(rc == 0 and err == "", "editcap, secrets taken out: %d %s" % (rc, err))
        check(frames(os.path.join(tmp, "e3")) == frames(pcap), "editcap's copy differs")


def refused(tmp, args, what, stdin=None):
    r = run(args, input=stdin)
    err = r.stderr.decode()
    check(r.returncode == 2 and err.count("\n") == 1 and r.stdout == b"",
          "%s: exit %d, stderr %r" % (what, r.returncode, err))
    return err


def test_refused(tmp):
    key, pcap = cap("starttls13.keylog"), cap("starttls13.pcap")
    out = os.path.join(tmp, "refused.pcapng")
    err = refused(tmp, ["-k", key, "--write-keys-pcapng", out, "-"], "stdin",
                  stdin=open(pcap, "rb").read())
    check("stdin" in err, "stdin: %r" % err)
    refused(tmp, ["-k", key, "--write-keys-pcapng", out, "-r", pcap, "-r", "-"], "stdin too",
            stdin=b"")
    refused(tmp, ["-k", key, "--write-keys-pcapng", out, "-i", "lo"], "live")
    refused(tmp, ["--write-keys-pcapng", out, pcap], "no key log")
    check(not os.path.exists(out), "a refused run made the file")
    copy = os.path.join(tmp, "input.pcap")
    shutil.copy(pcap, copy)
    refused(tmp, ["-k", key, "--write-keys-pcapng", copy, copy], "the output is the input")
    check(open(copy, "rb").read() == open(pcap, "rb").read(), "the input was touched")
    target = os.path.join(tmp, "target")
    open(target, "w").write("keep")
    link = os.path.join(tmp, "link.pcapng")
    os.symlink(target, link)
    refused(tmp, ["-k", key, "--write-keys-pcapng", link, pcap], "a link")
    check(open(target).read() == "keep", "written through a link")
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    refused(tmp, ["-k", key, "--write-keys-pcapng", out, "-r", fifo], "a FIFO input")
    big = os.path.join(tmp, "big.pcapng")
    with open(big, "wb") as f:	# a big-endian section header and an interface
        f.write(struct.pack(">IIIHHqI", SHB, 28, 0x1A2B3C4D, 1, 0, -1, 28) +
                struct.pack(">IIHHII", IDB, 20, 1, 0, 65535, 20))
    refused(tmp, ["-k", key, "--write-keys-pcapng", out, pcap, big], "big-endian pcapng")


def main():
    if shutil.which("tshark") is None:
        print("tshark is not installed (apt-get install tshark)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for t in (test_decrypts, test_only_used_lines, test_formats, test_several_inputs,
                  test_tools_read_it, test_refused):
            t(tmp)
    print("write-keys-pcapng: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
