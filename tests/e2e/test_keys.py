#!/usr/bin/env python3
"""TLS key material end to end: key logs that cover one direction, files
that are not key logs, the hints a session without keys gets, encrypted RSA
keys, and key logs far bigger than --max-memory.

- A key log missing the server's (or the client's) secrets decrypts the
  other direction only: the tls event says so per direction
  (decrypted_c2s/decrypted_s2c, decrypted false), one notice names the
  missing labels, and neither --summary nor the timeline's end line calls
  the session decrypted.
- A key log with no valid line is an error (exit 2, one line); malformed
  lines in a real one make one notice: the first line and the count.
- Without keys only RSA key exchange is told about --rsa-key; the end line
  of an undecrypted session shows the bytes that crossed the wire.
- An encrypted PEM key is named as such, with the command that decrypts it.
- A 60 MB key log under --max-memory 32 MiB stays under the cap and the
  capture still decrypts (the key log is read again for the randoms the
  capture needs); from stdin, what fitted is kept and the loss is said.

Only the project's captures/ are used.  Environment: IMAPSCOPE, REPO."""
import json
import os
import re
import subprocess
import sys
import tempfile

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO") or os.path.join(os.path.dirname(__file__), "..", "..")
CAPS = os.path.join(REPO, "captures")
KEYS = os.path.join(REPO, "tests", "e2e", "keys")
TIME = "/usr/bin/time"
MB = 1 << 20
BIG_KEYLOG_MB = 60
MAX_MEMORY = 32 * MB

failures = []
checks = 0


def check(what, ok, msg=""):
    global checks
    checks += 1
    if not ok:
        failures.append("%s: %s" % (what, msg))


def sanitized():
    with open(IMAPSCOPE, "rb") as f:
        return b"__asan_init" in f.read()


def run(args, stdin=None):
    r = subprocess.run([IMAPSCOPE] + args, capture_output=True, stdin=stdin)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def events(out):
    return [json.loads(l) for l in out.splitlines() if l.strip()]


def keylog_without(src, prefix, dst):
    with open(src) as f, open(dst, "w") as g:
        g.writelines(l for l in f if not l.startswith(prefix))
    return dst


# ---- 14.3: one direction ----------------------------------------------------

# capture, the TLS 1.3 session's client, the labels one side alone writes
ONE_SIDE = [("starttls13", "127.0.0.1:32898"), ("implicit-ecdhe", "127.0.0.1:52360")]


def check_one_direction(tmp, name, client, drop, ok_dir, label):
    lost_dir = "s2c" if ok_dir == "c2s" else "c2s"
    what = "%s without %s*" % (name, drop)
    kl = keylog_without(os.path.join(CAPS, name + ".keylog"), drop,
                        os.path.join(tmp, "%s-%s.keylog" % (name, drop.rstrip("_"))))
    cap = os.path.join(CAPS, name + ".pcap")
    rc, out, err = run(["-F", "json", "-k", kl, cap])
    check(what, rc == 0, "exit %d: %s" % (rc, err))
    evs = events(out)
    ids = [e["session"] for e in evs if e["type"] == "session_start" and e["client"] == client]
    evs = [e for e in evs if ids and e["session"] == ids[0]]
    tls = [e for e in evs if e["type"] == "tls"]
    check(what, len(tls) == 1, "%d tls events" % len(tls))
    if len(tls) != 1:
        return
    t = tls[0]
    check(what, t["decrypted"] is False and t.get("decrypted_" + ok_dir) is True and
          t.get("decrypted_" + lost_dir) is False, "tls event %s" % t)
    check(what, label in (t["reason"] or ""), "reason %r does not name %s" % (t["reason"], label))
    named = [l for l in err.splitlines() if label in l]
    check(what, len(named) == 1, "notices naming %s: %s" % (label, named))
    named = [e for e in evs if e["type"] == "notice" and label in e["text"]]
    check(what, len(named) == 1 and named[0]["kind"] == "tls_keys_missing",
          "notice events naming %s: %s" % (label, named))
    after = evs[evs.index(t):]
    cmds = [e for e in after if e["type"] == "command"]
    resps = [e for e in after if e["type"] in ("response", "untagged")]
    if ok_dir == "c2s":
        check(what, cmds and not resps, "%d commands, %d responses inside TLS"
              % (len(cmds), len(resps)))
    else:
        check(what, resps and not cmds, "%d commands, %d responses inside TLS"
              % (len(cmds), len(resps)))
    # --summary: not decrypted, in JSON and text
    rc, out, _ = run(["--summary", "-F", "json", "-k", kl, cap])
    sess = [e for e in events(out) if e.get("client") == client]
    check(what, sess and sess[0].get("tls") and sess[0]["tls"]["decrypted"] is False,
          "--summary JSON %s" % (sess[0].get("tls") if sess else None))
    rc, out, _ = run(["--summary", "-k", kl, cap])
    block = out.split("session #%d " % t["session"])[-1].split("\n\n")[0]
    transport = [l for l in block.splitlines() if l.strip().startswith("transport")]
    check(what, transport and "not decrypted" in transport[0],
          "--summary text: %s" % transport)
    # the timeline: the tls line says which direction, the end line shows
    # the undecrypted direction's wire bytes
    rc, out, _ = run(["-k", kl, "--color", "never", cap])
    check(what, ": decrypted %s only" % ok_dir in out, "no 'decrypted %s only' line" % ok_dir)
    ends = [l for l in out.splitlines() if " end (" in l and
            ("%s " % lost_dir) in l and "on the wire (not decrypted)" in l]
    check(what, ends, "no end line with %s wire bytes" % lost_dir)
    # --logins: a login whose answer was not decrypted is not called ok
    if ok_dir == "c2s":
        rc, out, _ = run(["--logins", "-F", "json", "-k", kl, cap])
        rows = [e for e in events(out) if e.get("client") == client]
        check(what, rows and all(r["result"] == "unknown" for r in rows), "--logins %s" % rows)


# ---- 14.8: files that are not key logs, malformed lines ---------------------

def check_keylog_files(tmp):
    cap = os.path.join(CAPS, "starttls13.pcap")
    png = os.path.join(tmp, "not.keylog")
    with open(png, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    rc, out, err = run(["-k", png, cap])
    check("not a key log", rc == 2 and out == "" and len(err.splitlines()) == 1 and
          err.startswith("imapscope: %s: not a key log" % png), "exit %d, %r" % (rc, err))
    # a real key log with 30 malformed lines among the good ones: one notice
    mixed = os.path.join(tmp, "mixed.keylog")
    with open(os.path.join(CAPS, "starttls13.keylog")) as f:
        good = f.readlines()
    with open(mixed, "w") as f:
        f.write("# comment\n")
        f.write(good[1])
        for i in range(30):
            f.write("CLIENT_RANDOM %d zz\n" % i)
        f.writelines(good[2:])
    rc, out, err = run(["-F", "json", "-k", mixed, cap])
    lines = [l for l in err.splitlines() if "key log" in l]
    check("malformed lines", rc == 0 and len(lines) == 1 and
          lines[0].startswith("imapscope: %s:3: key log line skipped" % mixed) and
          "30 malformed lines" in lines[0], "exit %d, %r" % (rc, err))
    check("malformed lines", '"decrypted":true' in out, "the good lines were not used")


# ---- 14.10: hints, wire bytes, encrypted keys --------------------------------

def check_hints():
    rc, out, _ = run(["-F", "json", os.path.join(CAPS, "implicit-ecdhe.pcap")])
    reasons = [e["reason"] for e in events(out) if e["type"] == "tls"]
    check("ECDHE hint", len(reasons) == 2 and all("--rsa-key" not in r for r in reasons),
          "ECDHE/TLS 1.3 sessions told about --rsa-key: %s" % reasons)
    rc, out, _ = run(["-F", "json", os.path.join(CAPS, "implicit-rsa.pcap")])
    reasons = [e["reason"] for e in events(out) if e["type"] == "tls"]
    check("RSA hint", len(reasons) == 1 and "--rsa-key" in reasons[0],
          "RSA key exchange not told about --rsa-key: %s" % reasons)
    rc, out, _ = run(["--color", "never", os.path.join(CAPS, "implicit-ecdhe.pcap")])
    ends = [l for l in out.splitlines() if " end (" in l]
    check("end line wire bytes", len(ends) == 2 and
          all(re.search(r"c2s [1-9]\d* B on the wire", l) and "s2c 0 B" not in l
              for l in ends), "end lines %s" % ends)
    cap = os.path.join(CAPS, "implicit-rsa.pcap")
    for key in ("encrypted-pkcs8.key", "encrypted-rsa.key"):
        path = os.path.join(KEYS, key)
        rc, out, err = run(["--rsa-key", path, cap])
        check("encrypted " + key, rc == 2 and out == "" and len(err.splitlines()) == 1 and
              err.startswith("imapscope: %s: the key is encrypted" % path) and
              ("openssl pkey -in %s -out " % path) in err, "exit %d, %r" % (rc, err))


# ---- 15.4: key logs bigger than --max-memory ----------------------------------

LABELS13 = ["SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "EXPORTER_SECRET", "SERVER_TRAFFIC_SECRET_0", "CLIENT_TRAFFIC_SECRET_0"]


def big_keylog(path, size, real, at):
    """size bytes of TLS 1.3 key log lines for random client randoms, with
    the real lines inserted once `at` of the file is written."""
    written, placed = 0, False
    with open(path, "w") as f:
        while written < size:
            blob = os.urandom(32 + 48 * len(LABELS13))
            cr = blob[:32].hex()
            text = "".join("%s %s %s\n" % (l, cr, blob[32 + 48 * i:80 + 48 * i].hex())
                           for i, l in enumerate(LABELS13))
            f.write(text)
            written += len(text)
            if not placed and written >= size * at:
                f.write(real)
                placed = True


def run_rss(args, stdin=None):
    """Exit code, stdout, stderr and peak RSS in bytes (from GNU time:
    getrusage of a forked child would count Python's pages too)."""
    with tempfile.NamedTemporaryFile(prefix="keys-rss-") as t:
        r = subprocess.run([TIME, "-f", "%M", "-o", t.name, IMAPSCOPE] + args,
                           capture_output=True, stdin=stdin)
        rss = int(open(t.name).read().split()[-1]) * 1024
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), rss


def check_big_keylog(tmp):
    if not os.access(TIME, os.X_OK):
        print("skip: key log memory (needs GNU time at %s)" % TIME)
        return
    san = sanitized()
    with open(os.path.join(CAPS, "starttls13.keylog")) as f:
        real = f.read()
    cap = os.path.join(CAPS, "starttls13.pcap")
    big = os.path.join(tmp, "big.keylog")
    big_keylog(big, BIG_KEYLOG_MB * MB, real, 0.5)
    args = ["-F", "json", "--max-memory", str(MAX_MEMORY), "-k", big, cap]
    rc, out, err, rss = run_rss(args)
    what = "%d MB key log under --max-memory %d" % (BIG_KEYLOG_MB, MAX_MEMORY)
    check(what, rc == 0, "exit %d: %s" % (rc, err))
    check(what, '"decrypted":true' in out and '"type":"command"' in out,
          "the capture's session was not decrypted")
    said = [l for l in err.splitlines() if "key logs" in l]
    check(what, len(said) == 1 and "--max-memory" in said[0], "notices %s" % said)
    if not san:	# ASan's shadow and quarantine are not imapscope's memory
        check(what, rss < MAX_MEMORY, "peak RSS %.1f MB" % (rss / MB))
    # stdin is read once: what fits is kept, the rest is dropped and said
    late = os.path.join(tmp, "late.keylog")
    big_keylog(late, BIG_KEYLOG_MB * MB, real, 1.0)
    with open(cap, "rb") as f:
        rc, out, err, rss = run_rss(["-F", "json", "--max-memory", str(MAX_MEMORY),
                                     "-k", late, "-"], stdin=f)
    what = "key log from stdin past the share"
    said = [l for l in err.splitlines() if "key logs" in l]
    check(what, rc == 0 and len(said) == 1 and "dropped" in said[0], "exit %d, %s" % (rc, said))
    check(what, '"decrypted":false' in out, "decrypted with dropped keys?")
    if not san:
        check(what, rss < MAX_MEMORY, "peak RSS %.1f MB" % (rss / MB))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, client in ONE_SIDE:
            check_one_direction(tmp, name, client, "SERVER_", "c2s",
                                "SERVER_HANDSHAKE_TRAFFIC_SECRET")
            check_one_direction(tmp, name, client, "CLIENT_", "s2c",
                                "CLIENT_HANDSHAKE_TRAFFIC_SECRET")
        # the handshake decrypts, the application data would not
        check_one_direction(tmp, "starttls13", ONE_SIDE[0][1], "SERVER_TRAFFIC_SECRET_0",
                            "c2s", "SERVER_TRAFFIC_SECRET_0")
        check_keylog_files(tmp)
        check_hints()
        check_big_keylog(tmp)
    for f in failures:
        print("FAIL " + f)
    print("keys: %d checks, %d failures" % (checks, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
