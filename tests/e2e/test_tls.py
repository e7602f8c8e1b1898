#!/usr/bin/env python3
"""TLS and COMPRESS=DEFLATE end to end: the corpus captures that have keys,
run with them, with the RSA key alone, with the wrong key log and with no
keys, and two damaged copies of a TLS capture (a lost segment, a flipped
byte).

With keys, every command and completion of the ground truth
(captures/*.truth.json, recorded on the client side) must be reported, in
order, with nothing extra; the tls event must say decrypted with the
version and cipher the client negotiated.  Without keys, a session must say
why, and report nothing that was sent inside TLS.

Environment: IMAPSCOPE (the binary), REPO (the repository root), PUBLIC
(the public captures, optional)."""
import json
import os
import struct
import subprocess
import sys
import tempfile

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO") or os.path.join(os.path.dirname(__file__), "..", "..")
CAPS = os.path.join(REPO, "captures")

# The TLS and COMPRESS captures this test covers (mbsync is left to
# test_corpus.py: its truth misses pipelined commands).
CAPTURES = ["starttls12", "starttls13", "implicit-ecdhe", "implicit-rsa", "compress",
            "compress-tls", "imaplib-tls", "curl", "s_client"]

# OpenSSL's names (what the clients logged) to the IANA names imapscope shows.
CIPHERS = {
    "ECDHE-RSA-AES256-GCM-SHA384": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "AES128-GCM-SHA256": "TLS_RSA_WITH_AES_128_GCM_SHA256",
}
# Where a truth file does not record the handshake, what the README says
# about the capture (s_client) or what its key log shows (curl: TLS 1.3
# secrets only).
KNOWN_TLS = {
    ("s_client", "127.0.0.1:50658"): ("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    ("s_client", "127.0.0.1:49396"): ("TLS 1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    ("curl", "127.0.0.1:53850"): ("TLS 1.3", None),
    ("curl", "127.0.0.1:60700"): ("TLS 1.3", None),
}
# --rsa-key is suggested only where RSA key exchange was used
WHY_NO_KEYS = "no keys given: use -k KEYLOG"
WHY_NO_KEYS_RSA = ("no keys given: use -k KEYLOG, or --rsa-key with the server's key"
                   " (RSA key exchange)")
WHY_NO_ENTRY = "no key log entry for this client random"
WHY_ECDHE = "ECDHE: an RSA key cannot decrypt this; provide a key log"

failures = []


def fail(what, msg):
    failures.append("%s: %s" % (what, msg))


def run(args, what):
    r = subprocess.run([IMAPSCOPE, "-F", "json", *args], capture_output=True)
    if r.returncode != 0:
        fail(what, "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")))
        return [], ""
    return ([json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()],
            r.stderr.decode(errors="replace"))


def truth_of(name):
    with open(os.path.join(CAPS, name + ".truth.json")) as f:
        return json.load(f)


def key_args(t, keylog=True, rsa=True):
    a = []
    if keylog and t.get("keylog"):
        a += ["-k", os.path.join(CAPS, t["keylog"])]
    if rsa and t.get("rsa_key"):
        a += ["--rsa-key", os.path.join(CAPS, t["rsa_key"])]
    for p in t.get("extra_ports") or []:
        a += ["-p", str(p)]
    return a


def by_session(events):
    """{client endpoint: [events]} in the order they came."""
    ids, out = {}, {}
    for e in events:
        if e["type"] == "session_start":
            ids[e["session"]] = e["client"]
            out[e["client"]] = []
        if e["session"] in ids:
            out[ids[e["session"]]].append(e)
    return out


def want_tls(name, s):
    tls = s["tls"] or {}
    version = tls.get("version")
    version = version.replace("TLSv", "TLS ") if version else None
    cipher = tls.get("cipher")
    cipher = CIPHERS.get(cipher, cipher)
    known = KNOWN_TLS.get((name, s["client"]))
    if known:
        version, cipher = version or known[0], cipher or known[1]
    return tls.get("phase"), version, cipher


def check_order(what, evs):
    types = [e["type"] for e in evs]
    if not types or types[0] != "session_start" or types[-1] != "session_end":
        fail(what, "does not run from session_start to session_end: %s" % types[:3])
    if types.count("tls") > 1 or types.count("compress") > 1:
        fail(what, "more than one tls or compress event")


def check_keyed_session(name, s, evs, how):
    what = "%s %s (%s)" % (name, s["client"], how)
    check_order(what, evs)
    cmds = [(e["tag"], e["command"]) for e in evs if e["type"] == "command"]
    want = [(c["tag"], c["command"]) for c in s["commands"]]
    if cmds != want:
        fail(what, "commands %s, want %s" % (cmds, want))
    resp = {}
    for e in evs:
        if e["type"] == "response":
            resp.setdefault(e["tag"], []).append(e["status"])
    for c in s["commands"]:
        got = resp.get(c["tag"], [])
        # "none": the client did not wait for it (LOGOUT); any answer will do
        if c["status"] != "none" and c["status"] not in got:
            fail(what, "%s %s: completions %s, want %s" % (c["tag"], c["command"], got,
                                                          c["status"]))
    logins = [(e["mechanism"], e["result"]) for e in evs if e["type"] == "login"]
    want_l = [(l["mechanism"], l["result"]) for l in s["logins"]]
    if logins != want_l:
        fail(what, "logins %s, want %s" % (logins, want_l))
    gaps = [e for e in evs if e["type"] == "gap"]
    if gaps:
        fail(what, "gaps on a whole capture: %s" % gaps)
    tls = [e for e in evs if e["type"] == "tls"]
    if s["tls"]:
        phase, version, cipher = want_tls(name, s)
        if len(tls) != 1:
            fail(what, "%d tls events" % len(tls))
        else:
            e = tls[0]
            if not e["decrypted"] or e["reason"] is not None:
                fail(what, "not decrypted: %s" % e["reason"])
            if e["phase"] != phase:
                fail(what, "phase %s, want %s" % (e["phase"], phase))
            if version and e["version"] != version:
                fail(what, "version %s, want %s" % (e["version"], version))
            if cipher and e["cipher"] != cipher:
                fail(what, "cipher %s, want %s" % (e["cipher"], cipher))
            # the tls event comes between STARTTLS's OK and the first
            # command sent inside TLS
            i_tls = evs.index(e)
            first_tls = next((c for c in s["commands"] if "tls" in c["layer"]), None)
            if first_tls is not None:
                i_cmd = next(i for i, x in enumerate(evs) if x["type"] == "command" and
                             x["tag"] == first_tls["tag"])
                if i_cmd < i_tls:
                    fail(what, "tls event after the first command inside TLS")
    elif tls:
        fail(what, "tls event on a plain session")
    comp = [e for e in evs if e["type"] == "compress"]
    if s["compress"]:
        if [e["decoded"] for e in comp] != [True]:
            fail(what, "compress events %s, want one decoded" % comp)
        if not any(c["layer"].endswith("compress") for c in s["commands"]):
            fail(what, "truth has no command after COMPRESS")
    summ = evs[-1].get("summary", {})
    if s["tls"] or s["compress"]:
        plain = summ.get("bytes_c2s", 0) + summ.get("bytes_s2c", 0)
        wire = summ.get("wire_bytes_c2s", 0) + summ.get("wire_bytes_s2c", 0)
        if not 0 < plain or (s["tls"] and not plain < wire):
            fail(what, "plaintext %d bytes, wire %d" % (plain, wire))


def check_keyed(name):
    t = truth_of(name)
    events, _ = run(key_args(t) + [os.path.join(CAPS, t["capture"])], name)
    sess = by_session(events)
    if sorted(sess) != sorted(s["client"] for s in t["sessions"]):
        fail(name, "sessions %s" % sorted(sess))
    for s in t["sessions"]:
        check_keyed_session(name, s, sess.get(s["client"], []), "keys")


def check_unkeyed(name, args, reason, how):
    """Without usable keys: the handshake and why, the plaintext part of the
    session, and nothing of what was inside TLS."""
    t = truth_of(name)
    events, _ = run(args + [os.path.join(CAPS, t["capture"])], name)
    sess = by_session(events)
    for s in t["sessions"]:
        evs = sess.get(s["client"], [])
        what = "%s %s (%s)" % (name, s["client"], how)
        check_order(what, evs)
        cmds = [(e["tag"], e["command"]) for e in evs if e["type"] == "command"]
        if not s["tls"]:
            continue
        want = [(c["tag"], c["command"]) for c in s["commands"] if "tls" not in c["layer"]]
        if cmds != want:
            fail(what, "commands %s, want only those before TLS %s" % (cmds, want))
        tls = [e for e in evs if e["type"] == "tls"]
        phase, version, cipher = want_tls(name, s)
        if len(tls) != 1:
            fail(what, "%d tls events" % len(tls))
            continue
        e = tls[0]
        why = reason
        if why == WHY_NO_KEYS and (e["cipher"] or "").startswith("TLS_RSA_WITH_"):
            why = WHY_NO_KEYS_RSA
        if e["decrypted"] or e["reason"] != why:
            fail(what, "decrypted=%s reason %r, want %r" % (e["decrypted"], e["reason"], why))
        if e["phase"] != phase or (version and e["version"] != version) or \
                (cipher and e["cipher"] != cipher):
            fail(what, "handshake not shown: %s" % e)
        if any(x["type"] in ("gap", "untagged", "continuation") and
               evs.index(x) > evs.index(e) for x in evs):
            fail(what, "events after an undecrypted handshake")
        summ = evs[-1]["summary"]
        if summ["wire_bytes_s2c"] <= summ["bytes_s2c"] or summ["duration_ms"] <= 0:
            fail(what, "byte counts or timing missing: %s" % summ)


def check_rsa_only():
    """RSA key exchange needs only the server's key; ECDHE cannot use it."""
    key = ["--rsa-key", os.path.join(CAPS, "tls", "server.key")]
    t = truth_of("implicit-rsa")
    events, _ = run(key + [os.path.join(CAPS, t["capture"])], "implicit-rsa")
    sess = by_session(events)
    for s in t["sessions"]:
        check_keyed_session("implicit-rsa", s, sess.get(s["client"], []), "--rsa-key only")
    t = truth_of("s_client")
    events, _ = run(key + [os.path.join(CAPS, t["capture"])], "s_client")
    sess = by_session(events)
    rsa, ecdhe = t["sessions"][1], t["sessions"][0]
    check_keyed_session("s_client", rsa, sess.get(rsa["client"], []), "--rsa-key only")
    tls = [e for e in sess.get(ecdhe["client"], []) if e["type"] == "tls"]
    if [(e["decrypted"], e["reason"]) for e in tls] != [(False, WHY_ECDHE)]:
        fail("s_client ECDHE (--rsa-key only)", "tls events %s" % tls)


def check_streams():
    """--streams holds the decrypted (and inflated) bytes."""
    for name, needles in (("starttls12", [b"a004 LOGIN alice", b"a007 LOGOUT"]),
                          ("compress-tls", [b"COMPRESS DEFLATE", b"LOGOUT"])):
        t = truth_of(name)
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "s")
            events, _ = run(key_args(t) + ["--streams", out, os.path.join(CAPS, t["capture"])],
                            name)
            with open(os.path.join(out, "index.jsonl")) as f:
                index = [json.loads(l) for l in f]
            if len(index) != 1:
                fail(name + " --streams", "index has %d sessions" % len(index))
                continue
            with open(os.path.join(out, index[0]["c2s"]["file"]), "rb") as f:
                c2s = f.read()
            with open(os.path.join(out, index[0]["s2c"]["file"]), "rb") as f:
                s2c = f.read()
            for n in needles:
                if n not in c2s:
                    fail(name + " --streams", "c2s lacks %r" % n)
            if b"Logout completed" not in s2c:
                fail(name + " --streams", "s2c lacks the LOGOUT completion")
            summ = [e for e in events if e["type"] == "session_end"][0]["summary"]
            if (len(c2s), len(s2c)) != (summ["bytes_c2s"], summ["bytes_s2c"]):
                fail(name + " --streams", "files %d/%d bytes, summary %d/%d" % (
                    len(c2s), len(s2c), summ["bytes_c2s"], summ["bytes_s2c"]))


def check_public_streams():
    """The public lekensteyn capture (STARTTLS, a client ending lines with a
    bare LF): its decrypted client stream holds the commands sent in TLS."""
    public = os.environ.get("PUBLIC")
    cap = os.path.join(public or "", "lekensteyn-imap-ssl.pcapng")
    if not public or not os.path.exists(cap):
        print("skip lekensteyn --streams: no PUBLIC captures")
        return
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "s")
        run(["-k", os.path.join(public, "lekensteyn-imap-ssl.keylog"), "--streams", out, cap],
            "lekensteyn")
        with open(os.path.join(out, "session-000001-c2s.bin"), "rb") as f:
            c2s = f.read()
        for n in (b". STARTTLS\r\n", b"a001 CAPABILITY\n", b"a002 CAPABILITY\n"):
            if n not in c2s:
                fail("lekensteyn --streams", "c2s lacks %r: %r" % (n, c2s))


# --- damaged copies of starttls12.pcap --------------------------------------

def pcap_packets(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\xd4\xc3\xb2\xa1" or struct.unpack("<I", data[20:24])[0] != 1:
        raise ValueError("want a little-endian Ethernet pcap")
    off, out = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8:off + 12])[0]
        out.append(bytearray(data[off:off + 16 + incl]))
        off += 16 + incl
    return data[:24], out


def tcp_payload_at(pkt):
    """(source port, offset of the TCP payload in the record, its length)."""
    eth = 16 + 14
    ip = eth + (pkt[eth] & 15) * 4
    sport = struct.unpack(">H", pkt[ip:ip + 2])[0]
    start = ip + (pkt[ip + 12] >> 4) * 4
    return sport, start, len(pkt) - start


def server_records(pkts):
    """Server packets whose payload starts with an application data record,
    with the record's length: [(index, length)]."""
    out = []
    for i, p in enumerate(pkts):
        sport, start, n = tcp_payload_at(p)
        if sport == 143 and n >= 5 and p[start] == 0x17:
            out.append((i, struct.unpack(">H", p[start + 3:start + 5])[0]))
    return out


def damaged_run(what, hdr, pkts, d):
    path = os.path.join(d, what + ".pcap")
    with open(path, "wb") as f:
        f.write(hdr + b"".join(pkts))
    t = truth_of("starttls12")
    return run(key_args(t) + [path], what)


def check_damaged():
    """A lost segment inside a record, and a record that fails its tag: a
    notice and a gap in the plaintext, never garbage, and the session goes
    on with the records after it."""
    hdr, pkts = pcap_packets(os.path.join(CAPS, "starttls12.pcap"))
    recs = server_records(pkts)
    # the FETCH response: the one record longer than a segment
    big = [i for i, n in recs if n + 5 > tcp_payload_at(pkts[i])[2]]
    # the SELECT response: the record before it
    select = [i for i, _ in recs if i < big[0]][-1] if big else None
    if not big or select is None:
        fail("damaged", "starttls12.pcap is not as expected")
        return
    with tempfile.TemporaryDirectory() as d:
        lost = pkts[:big[0] + 1] + pkts[big[0] + 2:]
        events, err = damaged_run("tls-lost-segment", hdr, lost, d)
        check_damaged_events("lost segment", events, err, lost_tag="a006",
                             notice="bytes missing s2c")
        flipped = [bytearray(p) for p in pkts]
        _, start, n = tcp_payload_at(flipped[select])
        flipped[select][start + n // 2] ^= 0x40
        events, err = damaged_run("tls-bad-tag", hdr, flipped, d)
        check_damaged_events("bad tag", events, err, lost_tag="a005", notice="TLS")


def check_damaged_events(what, events, err, lost_tag, notice):
    t = truth_of("starttls12")
    want = [(c["tag"], c["command"]) for c in t["sessions"][0]["commands"]]
    cmds = [(e["tag"], e["command"]) for e in events if e["type"] == "command"]
    if cmds != want:
        fail(what, "commands %s, want %s" % (cmds, want))
    done = [e["tag"] for e in events if e["type"] == "response"]
    if lost_tag in done or "a007" not in done:
        fail(what, "completions %s: want %s lost and a007 found" % (done, lost_tag))
    gaps = [e for e in events if e["type"] == "gap"]
    end = [e for e in events if e["type"] == "session_end"]
    if len(gaps) != 1 or gaps[0]["dir"] != "s2c" or not end:
        fail(what, "gaps %s" % gaps)
        return
    summ = end[0]["summary"]
    # the gap's offset is in the plaintext stream, before what followed it
    if not 0 < gaps[0]["offset"] < summ["bytes_s2c"]:
        fail(what, "gap offset %d, plaintext %d bytes" % (gaps[0]["offset"],
                                                          summ["bytes_s2c"]))
    if notice not in err:
        fail(what, "no notice: %r" % err)
    names = [e["name"] for e in events if e["type"] == "untagged"]
    if any(n not in ("OK", "CAPABILITY", "FLAGS", "EXISTS", "RECENT", "FETCH", "BYE")
           for n in names):
        fail(what, "garbage untagged responses: %s" % names)


def main():
    for name in CAPTURES:
        check_keyed(name)
    for name in CAPTURES:
        t = truth_of(name)
        if any(s["tls"] for s in t["sessions"]):
            check_unkeyed(name, key_args(t, keylog=False, rsa=False), WHY_NO_KEYS, "no keys")
    # another capture's key log: the client random is not in it
    check_unkeyed("starttls12", ["-k", os.path.join(CAPS, "starttls13.keylog")],
                  WHY_NO_ENTRY, "wrong key log")
    check_unkeyed("implicit-ecdhe", ["-k", os.path.join(CAPS, "curl.keylog")],
                  WHY_NO_ENTRY, "wrong key log")
    check_rsa_only()
    check_streams()
    check_public_streams()
    check_damaged()
    for f in failures:
        print("FAIL " + f)
    print("tls: %d captures with keys, without, wrong keys, RSA key only, --streams, "
          "damaged: %d failures" % (len(CAPTURES), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
