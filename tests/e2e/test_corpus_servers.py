#!/usr/bin/env python3
"""The wider corpus (issue 18): servers other than Dovecot, another client
library, and the misbehaving client's captures.

test_corpus.py already holds every captures/*.truth.json to its commands,
completions, logins and ghosts; this file checks what the wider corpus is for:

  servers      captures from Cyrus IMAP, GNU imap4d and Courier exist, and
               imapscope sees those servers' own greetings in them (four
               servers with Dovecot); a client that is neither Python nor a stock CLI
               (Perl Mail::IMAPClient) recorded its own truth on all four
  misbehave    every misbehave-* truth session names its case and at least
               one finding; every rule id is in the catalogue below (the
               shared ids of --check); every finding's frame is a segment of
               that session, in the direction of the side that broke the rule;
               every client-side rule but those listed as not recorded has a
               real capture
  outputs      with --activity / --check (when the binary has them) every new
               capture runs clean (exit 0, JSON lines); with --check every
               finding of the misbehave truth is reported on its session, and
               the well-behaved captures' findings are counted (printed, for
               the false-positive goal of fewer than one per 20 commands)

Env: IMAPSCOPE, REPO.  Standard library only.
"""
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REPO") or os.path.abspath(os.path.join(HERE, "..", ".."))
IMAPSCOPE = os.environ.get("IMAPSCOPE") or os.path.join(REPO, "imapscope")
CAPS = os.path.join(REPO, "captures")
sys.path.insert(0, os.path.join(REPO, "scripts", "capture"))
import pcaptool  # noqa: E402

# /work/check-rules.md (issue 18): the ids the checker and the corpus share
RULES = {
    "literal-before-continuation": "client", "literal-plus-not-advertised": "client",
    "literal-minus-too-large": "client", "command-wrong-state": "client",
    "capability-not-advertised": "client", "login-disabled": "client",
    "auth-mechanism-not-advertised": "client", "tag-reused": "client",
    "tag-invalid": "client", "idle-not-done": "client", "bare-newline": "both",
    "nul-in-line": "both", "line-too-long": "both", "tagged-unknown-tag": "server",
    "continuation-unexpected": "server", "fetch-without-uid": "server",
    "expunge-during-command": "server", "untagged-malformed": "server",
    "literal-size-mismatch": "both", "plaintext-after-starttls": "both",
    "injected-before-tls": "both", "compress-twice": "client",
    "compress-before-auth": "client",
}
# client-side rules no real server lets a raw client show
NOT_RECORDED = set()
# what each server's greeting says (GNU imap4d's is a bare "* OK IMAP4rev1")
SERVERS = {"cyrus": "Cyrus IMAP", "imap4d": "IMAP4rev1", "courier": "Courier-IMAP"}

failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg)


def load(name):
    with open(os.path.join(CAPS, name + ".truth.json")) as f:
        return json.load(f)


def run(truth, *extra):
    args = [IMAPSCOPE, "-F", "json", "-q", *extra]
    if truth.get("keylog"):
        args += ["-k", os.path.join(CAPS, truth["keylog"])]
    args.append(os.path.join(CAPS, truth["capture"]))
    r = subprocess.run(args, capture_output=True, timeout=120)
    evs = []
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        try:
            evs.append(json.loads(line))
        except ValueError:
            fail("%s %s: output line is not JSON: %.80s" % (truth["capture"], extra, line))
            break
    if r.returncode != 0:
        fail("%s %s: exit %d: %s" % (truth["capture"], extra, r.returncode,
                                     r.stderr.decode("utf-8", "replace").strip()[-200:]))
    return evs


def names(prefix):
    return sorted(os.path.basename(p)[:-len(".truth.json")]
                  for p in glob.glob(os.path.join(CAPS, prefix + "*.truth.json")))


def check_servers():
    for srv, greeting in SERVERS.items():
        caps = names(srv + "-")
        if len(caps) < 5:
            fail("%s: %d captures, want the five scripted ones and the Perl one" % (srv, len(caps)))
        for n in caps:
            t = load(n)
            evs = run(t)
            greets = ["%s %s" % (e.get("text") or "", e.get("code") or "")
                      for e in evs if e.get("type") == "greeting"]
            want = len(t["sessions"])
            if len(greets) != want or not all(greeting in g for g in greets):
                fail("%s: %d greetings naming %r, want %d" % (n, len(greets), greeting, want))
            size = os.path.getsize(os.path.join(CAPS, t["capture"]))
            if size > 100 * 1024:
                fail("%s: %d bytes, the corpus keeps each new capture under 100 KB" % (n, size))
        perl = [s for n in caps for s in load(n)["sessions"]
                if s["source"] == "perl Mail::IMAPClient"]
        if not perl or not all(s["commands"] for s in perl):
            fail("%s: no Perl Mail::IMAPClient session with commands" % srv)
    if not os.path.exists(os.path.join(CAPS, "perl.truth.json")) or not any(
            s["source"] == "perl Mail::IMAPClient" and s["commands"]
            for s in load("perl")["sessions"]):
        fail("perl: no Perl Mail::IMAPClient session against Dovecot")
    print("servers: %s" % ", ".join("%s (%d captures)" % (s, len(names(s + "-"))) for s in SERVERS))


def frame_side(cap, frame, client):
    """'client' or 'server': who sent frame, if it belongs to client's
    connection; None otherwise."""
    if not 1 <= frame <= len(cap["packets"]):
        return None
    ti = pcaptool.tcp_info(cap["linktype"], cap["packets"][frame - 1]["data"])
    if not ti:
        return None
    if "%s:%d" % (ti[0], ti[1]) == client:
        return "client"
    if "%s:%d" % (ti[2], ti[3]) == client:
        return "server"
    return None


def check_misbehave():
    seen = set()
    caps = names("misbehave-")
    if len(caps) < 5:
        fail("misbehave: %d captures, want 5 (Dovecot strict and LITERAL-, Cyrus, imap4d, Courier)"
             % len(caps))
    nconn = 0
    for n in caps:
        t = load(n)
        cap = pcaptool.read_pcap(os.path.join(CAPS, t["capture"]))
        for s in t["sessions"]:
            nconn += 1
            where = "%s %s (%s)" % (n, s.get("case"), s["client"])
            if not s.get("case") or not s.get("findings"):
                fail("%s: no case or no findings" % where)
                continue
            for f in s["findings"]:
                rule = f.get("rule")
                if rule not in RULES:
                    fail("%s: unknown rule id %r" % (where, rule))
                    continue
                if RULES[rule] != "both" and RULES[rule] != f.get("side"):
                    fail("%s: %s is a %s-side rule, not %s" % (where, rule, RULES[rule], f.get("side")))
                side = frame_side(cap, f.get("frame") or 0, s["client"])
                if side != f.get("side"):
                    fail("%s: %s frame %s is not a %s segment of this session"
                         % (where, rule, f.get("frame"), f.get("side")))
                if f.get("side") == "client":
                    seen.add(rule)
    want = {r for r, side in RULES.items() if side in ("client", "both")} - NOT_RECORDED
    # the both-sided byte rules are recorded from the client side
    missing = sorted(want - seen - {"literal-size-mismatch"})
    if missing:
        fail("misbehave: client-side rules without a real capture: %s" % ", ".join(missing))
    print("misbehave: %d captures, %d connections, %d client-side rules recorded"
          % (len(caps), nconn, len(seen)))


def has_option(opt):
    r = subprocess.run([IMAPSCOPE, "--help"], capture_output=True)
    return opt in r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")


def check_outputs():
    new = names("cyrus-") + names("imap4d-") + names("misbehave-")
    if has_option("--activity"):
        for n in new:
            run(load(n), "--activity")
        print("outputs: --activity ran on %d captures" % len(new))
    else:
        print("outputs: this imapscope has no --activity; not run")
    if not has_option("--check"):
        print("outputs: this imapscope has no --check; the misbehave findings wait for it")
        return
    findings = ncmd = 0
    for n in new:
        t = load(n)
        evs = run(t, "--check")
        by_sid = {}
        for e in evs:
            if e.get("type") == "session_start":
                by_sid[e.get("session")] = e.get("client")
        got = [(by_sid.get(e.get("session")), e.get("rule"), e.get("frame"))
               for e in evs if e.get("type") == "finding"]
        if n.startswith("misbehave-"):
            for s in t["sessions"]:
                for f in s["findings"]:
                    if not any(c == s["client"] and r == f["rule"] for c, r, _ in got):
                        fail("%s %s: --check did not report %s (frame %s)"
                             % (n, s["case"], f["rule"], f["frame"]))
                # and nothing the truth does not list (a false positive)
                want = sorted(f["rule"] for f in s["findings"])
                have = sorted(r for c, r, _ in got if c == s["client"])
                for r in set(have):
                    if have.count(r) > want.count(r):
                        fail("%s %s: --check reported %s %d times, the truth lists it %d"
                             % (n, s["case"], r, have.count(r), want.count(r)))
        else:
            findings += len(got)
            ncmd += sum(len(s["commands"]) for s in t["sessions"])
    print("outputs: --check on the well-behaved new captures: %d findings for %d commands"
          % (findings, ncmd))


def main():
    if not os.path.exists(IMAPSCOPE):
        print("FAIL: no binary at %s" % IMAPSCOPE)
        return 1
    check_servers()
    check_misbehave()
    check_outputs()
    print("corpus_servers: %s" % ("FAILED (%d)" % failures if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
