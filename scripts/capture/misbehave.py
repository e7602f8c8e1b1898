#!/usr/bin/env python3
"""A misbehaving IMAP client: one protocol violation per connection, against
real servers, for the checker's client-side rules (issue 18, --check).

usage: misbehave.py run SERVER --truth FRAGMENT.json [--user-suffix S]
       misbehave.py frames TRUTH.json          (after truth.py assemble)

SERVER picks the cases that server can show (dovecot-strict, cyrus, imap4d):
each case checks the capabilities it needs first (a case whose premise does
not hold on that server raises, so the recipe never records a case that does
not show what its truth says).  The raw socket writes exactly the bytes
given: nothing is fixed up (CRLF, literals, tags).

Each session of the truth is a normal corpus session (tag, command, status as
read back; test_corpus.py checks them) plus
    "case":     the case name,
    "findings": [{"rule", "side", "tag", "marker", "frame"}]
the rule ids (/work/check-rules.md, docs/checks.md) the checker must report
for that connection; "marker" is a piece of the offending bytes as sent
(escaped), "frame" the 1-based number of the capture frame that carries it
(filled in by "frames": the first segment of that side holding the marker,
or for bytes inside TLS/COMPRESS the first segment of that side sent after
it).  "extra_responses": tagged completions the client read for a tag
already completed (test_corpus.py counts them; they are no ghosts).
"known_misses": completions imapscope is known not to see yet (listed by
test_corpus.py, not failed; it says so once imapscope finds them).
"""
import argparse
import base64
import json
import os
import re
import socket
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaptool  # noqa: E402
from imapclient import endpoint  # noqa: E402

LIT_RE = re.compile(rb"\{(\d+)\+?\}\r\n$")
PASS = {"alice": "alice-pw", "bob": "bob-pw"}


class Premise(Exception):
    """The server does not offer what the case needs."""


class Raw:
    def __init__(self, a, case, bind=None):
        self.a = a
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if bind:
            self.sock.bind((bind, 0))
        self.sock.settimeout(5)
        self.sock.connect((a.host, a.port))
        self.rbuf = b""
        self.deflate = self.inflate = None
        self.layer = "plain"
        self.caps = set()
        self.session = {"client": endpoint(self.sock.getsockname()),
                        "server": endpoint(self.sock.getpeername()),
                        "source": "misbehave.py", "tls": None, "compress": False,
                        "commands": [], "logins": [], "marks": [], "case": case,
                        "findings": []}
        self.line()                     # the greeting; its [CAPABILITY] if any
        if not self.caps:
            self.capability()           # the checker needs the caps in force too

    # ---- wire ----------------------------------------------------------
    def send(self, data):
        # first words of the lines sent: a server answering one of them
        # (Courier takes a stray "DONE" for a tag) answers a tag it was sent
        self.sent_words = getattr(self, "sent_words", set())
        self.sent_words.update(l.split(b" ", 1)[0].decode("latin-1")
                               for l in data.split(b"\r\n") if l)
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("closed")
        self.rbuf += self.inflate.decompress(d) if self.inflate else d

    def line(self):
        """One response, literals included."""
        while b"\r\n" not in self.rbuf:
            self._fill()
        i = self.rbuf.index(b"\r\n") + 2
        out, self.rbuf = self.rbuf[:i], self.rbuf[i:]
        m = LIT_RE.search(out)
        while m:
            n = int(m.group(1))
            while len(self.rbuf) < n:
                self._fill()
            out += self.rbuf[:n]
            self.rbuf = self.rbuf[n:]
            while b"\r\n" not in self.rbuf:
                self._fill()
            i = self.rbuf.index(b"\r\n") + 2
            tail, self.rbuf = self.rbuf[:i], self.rbuf[i:]
            out += tail
            m = LIT_RE.search(tail)
        self._caps_from(out)
        return out

    def _caps_from(self, resp):
        m = re.search(rb"(?:^\* CAPABILITY |\[CAPABILITY )([^\]\r\n]*)", resp, re.I)
        if m:
            self.caps = set(m.group(1).decode().upper().split())

    # ---- truth ---------------------------------------------------------
    def rec(self, tag, command):
        r = {"tag": tag, "command": command.upper(), "status": None, "layer": self.layer,
             "t_sent": time.time(), "t_done": None}
        self.session["commands"].append(r)
        return r

    def expect(self, rule, tag=None, marker=b"", side="client"):
        self.session["findings"].append({
            "rule": rule, "side": side, "tag": tag,
            "marker": marker.decode("latin-1").encode("unicode_escape").decode(),
            "t": time.time(), "layer": self.layer, "frame": None})

    def _tagged(self, resp):
        """Record a tagged completion; returns its tag or None.  A second
        completion for a tag already completed (Cyrus answers a STARTTLS
        twice when bytes were pipelined behind it) is kept apart in
        "extra_responses", and is the server's tagged-unknown-tag."""
        if resp.startswith(b"\x15\x03"):
            # a TLS alert record, then plain text (Courier after a failed
            # handshake): imapscope 3b7ee0a stops reading the server there
            self.after_alert = True
        w = resp.split(b" ", 2)
        if len(w) < 2 or w[1] not in (b"OK", b"NO", b"BAD") or w[0] in (b"*", b"+"):
            return None
        t = w[0].decode("latin-1")
        if getattr(self, "after_alert", False):
            self.session.setdefault("known_misses", []).append(
                {"tag": t, "status": w[1].decode(),
                 "why": "plain text after the server's TLS alert record: imapscope "
                        "decodes no more of that direction (\"s2c stream is not TLS records\")"})
        for r in self.session["commands"]:
            if r["tag"] == t and r["status"] is None:
                r["status"] = w[1].decode()
                r["t_done"] = time.time()
                return t
        self.session.setdefault("extra_responses", []).append(
            {"tag": t, "status": w[1].decode(), "t": time.time()})
        # not a violation when the client did send that word first on a
        # line; not judged when imapscope cannot read the line (after_alert)
        if t not in getattr(self, "sent_words", ()) and not getattr(self, "after_alert", False):
            self.expect("tagged-unknown-tag", t, resp[:40].rstrip(b"\r\n"), side="server")
        return t

    def wait(self, tags, plus_ok=False):
        """Read until every tag in tags completed (or a '+' if plus_ok);
        returns the last response line.  Completes the records."""
        pending = list(tags)
        while pending:
            resp = self.line()
            if resp.startswith(b"+") and plus_ok:
                return resp
            t = self._tagged(resp)
            if t in pending:
                pending.remove(t)
        return resp

    def cmd(self, tag, text, name=None):
        """A well-formed command: send, wait for its completion."""
        self.rec(tag, name or text.split(" ")[0])
        self.send(("%s %s\r\n" % (tag, text)).encode())
        self.wait([tag])
        return self.session["commands"][-1]["status"]

    def login(self, user="alice"):
        u = user + self.a.user_suffix
        st = self.cmd("m0", "LOGIN %s %s" % (u, PASS[user]))
        self.session["logins"].append({"user": u, "mechanism": "LOGIN",
                                       "result": "ok" if st == "OK" else "fail",
                                       "tag": "m0", "layer": self.layer})
        if st != "OK":
            raise Premise("LOGIN refused")
        self.capability()

    def capability(self):
        self.cmd("mc", "CAPABILITY")

    def start_compress(self):
        self.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflate = zlib.decompressobj(-15)
        self.session["compress"] = True
        self.layer = "compress"

    def drain(self, secs=0.5):
        """Whatever the server still says (a BAD to a broken line, a BYE)."""
        self.sock.settimeout(secs)
        try:
            while True:
                self._tagged(self.line())
        except (OSError, EOFError):
            pass
        self.sock.settimeout(5)

    def logout(self):
        r = self.rec("mz", "LOGOUT")
        try:
            self.send(b"mz LOGOUT\r\n")
        except OSError:
            self.session["commands"].remove(r)     # never left the client
        try:
            self.wait(["mz"])
        except (OSError, EOFError):
            pass
        self.sock.close()

    def need(self, *caps):
        for c in caps:
            if c.startswith("!"):
                if c[1:] in self.caps:
                    raise Premise("%s is advertised" % c[1:])
            elif c not in self.caps:
                raise Premise("%s is not advertised" % c)


# ---- the cases: each gets a fresh connection ----------------------------
def c_login_disabled(r):
    r.need("LOGINDISABLED")
    r.rec("m1", "LOGIN")
    r.expect("login-disabled", "m1", b"m1 LOGIN")
    r.send(b"m1 LOGIN alice alice-pw\r\n")
    r.wait(["m1"])
    r.session["logins"].append({"user": "alice", "mechanism": "LOGIN",
                                "result": "ok" if r.session["commands"][-1]["status"] == "OK"
                                else "fail", "tag": "m1", "layer": "plain"})


def c_auth_unadvertised(r):
    r.need("!AUTH=PLAIN")
    r.rec("m1", "AUTHENTICATE")
    r.expect("auth-mechanism-not-advertised", "m1", b"m1 AUTHENTICATE PLAIN")
    r.send(b"m1 AUTHENTICATE PLAIN\r\n")
    resp = r.wait(["m1"], plus_ok=True)
    sent = resp.startswith(b"+")
    if sent:
        r.send(base64.b64encode(b"\0alice\0alice-pw") + b"\r\n")
        r.wait(["m1"])
    st = r.session["commands"][-1]["status"]
    # refused before the client could send who it is: no user name
    r.session["logins"].append({"user": "alice" if sent else None, "mechanism": "PLAIN",
                                "result": "ok" if st == "OK" else "fail",
                                "tag": "m1", "layer": "plain"})


def c_injected_before_tls(r):
    r.need("STARTTLS")
    r.rec("m1", "STARTTLS")
    r.rec("m2", "CAPABILITY")
    r.expect("injected-before-tls", "m2", b"m2 CAPABILITY")
    r.send(b"m1 STARTTLS\r\nm2 CAPABILITY\r\n")     # CVE-2011-0411 style
    r.wait(["m1"])
    r.drain(0.5)
    # the closing LOGOUT goes in plain text after the STARTTLS OK
    r.expect("plaintext-after-starttls", "mz", b"mz LOGOUT")


def c_plaintext_after_starttls(r):
    r.need("STARTTLS")
    r.cmd("m1", "STARTTLS")
    r.rec("m2", "NOOP")
    r.expect("plaintext-after-starttls", "m2", b"m2 NOOP")
    r.send(b"m2 NOOP\r\n")                             # no handshake: plain text
    r.drain(1.0)


def c_wrong_state_select(r):
    r.rec("m1", "SELECT")
    r.expect("command-wrong-state", "m1", b"m1 SELECT")
    r.send(b"m1 SELECT INBOX\r\n")
    r.wait(["m1"])


def c_wrong_state_fetch(r):
    r.login()
    r.rec("m1", "FETCH")
    r.expect("command-wrong-state", "m1", b"m1 FETCH")
    r.send(b"m1 FETCH 1 (FLAGS)\r\n")
    r.wait(["m1"])


def c_wrong_state_login(r):
    r.login()
    r.need("!LOGINDISABLED")
    r.rec("m1", "LOGIN")
    r.expect("command-wrong-state", "m1", b"m1 LOGIN")
    u = "bob" + r.a.user_suffix
    r.send(("m1 LOGIN %s bob-pw\r\n" % u).encode())
    r.wait(["m1"])
    # no login record: a LOGIN refused for the state is no login attempt
    # (as in the Dovecot corpus' login-failures)


def c_literal_plus(r):
    r.login()
    r.need("!LITERAL+", "!LITERAL-")
    r.rec("m1", "CREATE")
    r.expect("literal-plus-not-advertised", "m1", b"{8+}")
    r.send(b"m1 CREATE {8+}\r\nLitPlus1\r\n")
    r.wait(["m1"])


def c_literal_minus_too_large(r):
    r.login()
    r.need("LITERAL-", "!LITERAL+")
    # {n+} up to 4096 octets is what LITERAL- allows: no finding
    r.cmd("m1", "CREATE {7+}\r\nLitMin1", name="CREATE")
    r.rec("m2", "APPEND")
    r.expect("literal-minus-too-large", "m2", b"{5000+}")
    r.send(b"m2 APPEND INBOX {5000+}\r\nSubject: big\r\n\r\n" + b"y" * 4984 + b"\r\n")
    r.wait(["m2"])                  # Dovecot: * BYE [TOOBIG], then it closes


def c_literal_early(r):
    r.login()
    r.rec("m1", "CREATE")
    r.expect("literal-before-continuation", "m1", b"LitEarly")
    r.send(b"m1 CREATE {8}\r\nLitEarly\r\n")            # without waiting for "+"
    r.wait(["m1"])


def c_tag_reused(r):
    r.login()
    r.cmd("m1", "SELECT INBOX")
    r.rec("m2", "SEARCH")
    r.rec("m2", "NOOP")
    r.expect("tag-reused", "m2", b"m2 NOOP")
    r.send(b"m2 SEARCH TEXT \"fox\"\r\nm2 NOOP\r\n")     # one write: both in flight
    r.wait(["m2", "m2"])


def c_tag_invalid(r):
    # no command record: the server does not take it for one (Dovecot
    # answers an untagged BAD), and neither does imapscope (a notice)
    r.expect("tag-invalid", "m+1", b"m+1 NOOP")
    r.send(b"m+1 NOOP\r\n")
    r.drain(0.5)


def c_bare_newline(r):
    r.rec("m1", "NOOP")
    r.expect("bare-newline", "m1", b"m1 NOOP\n")
    r.send(b"m1 NOOP\n")
    r.drain(0.5)
    r.cmd("m2", "NOOP")


def c_nul(r):
    r.rec("m1", "NOOP")
    r.expect("nul-in-line", "m1", b"m1 NOOP \x00")
    r.send(b"m1 NOOP \x00x\r\n")
    r.drain(0.5)


def c_long_line(r):
    r.login()
    r.cmd("m1", "SELECT INBOX")
    r.rec("m2", "SEARCH")
    r.expect("line-too-long", "m2", b"m2 SEARCH SUBJECT")
    r.send(b"m2 SEARCH SUBJECT \"" + b"x" * 9000 + b"\"\r\n")
    r.wait(["m2"])


def c_idle_unadvertised(r):
    r.login()
    r.need("!IDLE")
    r.cmd("m1", "SELECT INBOX")
    r.rec("m2", "IDLE")
    r.expect("capability-not-advertised", "m2", b"m2 IDLE")
    r.send(b"m2 IDLE\r\n")
    resp = r.wait(["m2"], plus_ok=True)
    if resp.startswith(b"+"):
        time.sleep(0.3)
        r.send(b"DONE\r\n")
        r.wait(["m2"])


def _unadvertised(r, cap, tag, text, name, select=True):
    r.login()
    r.need("!" + cap)
    if select:
        r.cmd("m1", "SELECT INBOX")
    r.rec(tag, name)
    r.expect("capability-not-advertised", tag, ("%s %s" % (tag, text)).encode())
    r.send(("%s %s\r\n" % (tag, text)).encode())
    r.wait([tag])


def c_move_unadvertised(r):
    _unadvertised(r, "MOVE", "m2", "MOVE 1 Archive", "MOVE")


def c_uid_expunge_unadvertised(r):
    _unadvertised(r, "UIDPLUS", "m2", "UID EXPUNGE 1", "UID EXPUNGE")


def c_namespace_unadvertised(r):
    _unadvertised(r, "NAMESPACE", "m2", "NAMESPACE", "NAMESPACE", select=False)


def c_enable_unadvertised(r):
    _unadvertised(r, "ENABLE", "m2", "ENABLE CONDSTORE", "ENABLE", select=False)


def c_compress_unadvertised(r):
    _unadvertised(r, "COMPRESS=DEFLATE", "m2", "COMPRESS DEFLATE", "COMPRESS", select=False)
    if r.session["commands"][-1]["status"] == "OK":
        r.start_compress()          # Dovecot runs it all the same


def c_condstore_unadvertised(r):
    _unadvertised(r, "CONDSTORE", "m2", "FETCH 1 (FLAGS) (CHANGEDSINCE 1)", "FETCH")


def c_esearch_unadvertised(r):
    _unadvertised(r, "ESEARCH", "m2", "SEARCH RETURN (MIN MAX) ALL", "SEARCH")


def c_sasl_ir_unadvertised(r):
    r.need("!SASL-IR", "AUTH=LOGIN")
    # LOGIN with an initial response: the user name, base64
    u = "alice" + r.a.user_suffix
    r.rec("m1", "AUTHENTICATE")
    r.expect("capability-not-advertised", "m1", b"m1 AUTHENTICATE LOGIN ")
    r.send(b"m1 AUTHENTICATE LOGIN " + base64.b64encode(u.encode()) + b"\r\n")
    cancelled = False
    try:
        resp = r.wait(["m1"], plus_ok=True)
        if resp.startswith(b"+"):
            r.send(b"*\r\n")                           # cancel
            cancelled = True
            r.wait(["m1"])
    except (OSError, EOFError):
        pass
    st = r.session["commands"][-1]["status"]
    r.session["logins"].append({"user": None, "mechanism": "LOGIN",
                                "result": "ok" if st == "OK" else
                                "aborted" if cancelled else "fail",
                                "tag": "m1", "layer": "plain"})


def c_idle_not_done(r):
    r.login()
    r.need("IDLE")
    r.cmd("m1", "SELECT INBOX")
    r.rec("m2", "IDLE")
    r.send(b"m2 IDLE\r\n")
    resp = r.wait(["m2"], plus_ok=True)
    if not resp.startswith(b"+"):
        raise Premise("IDLE refused")
    time.sleep(0.2)
    r.rec("m3", "NOOP")
    r.expect("idle-not-done", "m2", b"m3 NOOP")
    r.send(b"m3 NOOP\r\n")                             # not DONE
    r.drain(1.0)
    if r.session["commands"][-1]["status"] is None:
        r.send(b"DONE\r\n")
        r.wait(["m2"])


def c_compress_before_auth(r):
    r.rec("m1", "COMPRESS")
    r.expect("compress-before-auth", "m1", b"m1 COMPRESS")
    if "COMPRESS=DEFLATE" not in r.caps:
        r.expect("capability-not-advertised", "m1", b"m1 COMPRESS")
    r.send(b"m1 COMPRESS DEFLATE\r\n")
    r.wait(["m1"])
    if r.session["commands"][-1]["status"] == "OK":
        r.start_compress()


def c_compress_twice(r):
    r.login()
    r.need("COMPRESS=DEFLATE")
    if r.cmd("m1", "COMPRESS DEFLATE") != "OK":
        raise Premise("COMPRESS refused")
    r.start_compress()
    r.rec("m2", "COMPRESS")
    r.expect("compress-twice", "m2", b"m2 COMPRESS")
    r.send(b"m2 COMPRESS DEFLATE\r\n")
    r.wait(["m2"])


CASES = {
    # Dovecot 2.3 with disable_plaintext_auth and a reduced imap_capability;
    # the LOGINDISABLED cases connect from 127.0.0.2 (Dovecot counts a
    # client on the server's own address as secured and lifts the rule)
    "dovecot-strict": [
        ("login-disabled", c_login_disabled, "127.0.0.2"),
        ("auth-mechanism-not-advertised", c_auth_unadvertised, "127.0.0.2"),
        ("injected-before-tls", c_injected_before_tls, None),
        ("plaintext-after-starttls", c_plaintext_after_starttls, None),
        ("wrong-state-select", c_wrong_state_select, None),
        ("literal-plus-not-advertised", c_literal_plus, None),
        ("literal-before-continuation", c_literal_early, None),
        ("tag-reused", c_tag_reused, None),
        ("tag-invalid", c_tag_invalid, None),
        ("bare-newline", c_bare_newline, None),
        ("nul-in-line", c_nul, None),
        ("line-too-long", c_long_line, None),
        ("idle-not-advertised", c_idle_unadvertised, None),
        ("move-not-advertised", c_move_unadvertised, None),
        ("namespace-not-advertised", c_namespace_unadvertised, None),
        ("compress-not-advertised", c_compress_unadvertised, None),
    ],
    # Dovecot with imap_literal_minus and LITERAL- alone advertised
    "dovecot-literal-minus": [
        ("literal-minus-too-large", c_literal_minus_too_large, None),
    ],
    "cyrus": [
        ("idle-not-done", c_idle_not_done, None),
        ("compress-twice", c_compress_twice, None),
        ("compress-before-auth", c_compress_before_auth, None),
        ("wrong-state-fetch", c_wrong_state_fetch, None),
        ("literal-before-continuation", c_literal_early, None),
        ("tag-reused", c_tag_reused, None),
        ("injected-before-tls", c_injected_before_tls, None),
        ("bare-newline", c_bare_newline, None),
    ],
    "courier": [
        ("literal-plus-not-advertised", c_literal_plus, None),
        ("idle-not-done", c_idle_not_done, None),
        ("tag-reused", c_tag_reused, None),
        ("injected-before-tls", c_injected_before_tls, None),
        ("bare-newline", c_bare_newline, None),
    ],
    "imap4d": [
        ("move-not-advertised", c_move_unadvertised, None),
        ("uid-expunge-not-advertised", c_uid_expunge_unadvertised, None),
        ("enable-not-advertised", c_enable_unadvertised, None),
        ("compress-not-advertised", c_compress_unadvertised, None),
        ("condstore-not-advertised", c_condstore_unadvertised, None),
        ("esearch-not-advertised", c_esearch_unadvertised, None),
        ("sasl-ir-not-advertised", c_sasl_ir_unadvertised, None),
        ("wrong-state-login", c_wrong_state_login, None),
        ("idle-not-done", c_idle_not_done, None),
        ("injected-before-tls", c_injected_before_tls, None),
        ("nul-in-line", c_nul, None),
    ],
}


def run(a):
    sessions = []
    for name, fn, bind in CASES[a.server]:
        r = Raw(a, name, bind=bind)
        try:
            fn(r)
        except Premise as e:
            raise SystemExit("misbehave %s/%s: %s" % (a.server, name, e))
        except (OSError, EOFError) as e:
            r.session["marks"].append({"name": "server-dropped", "t": time.time(),
                                       "error": str(e)[:120]})
        r.logout()
        for c in r.session["commands"]:
            if c["status"] is None:
                c["status"] = "none"
        sessions.append(r.session)
        time.sleep(0.1)
    with open(a.truth, "w") as f:
        json.dump({"sessions": sessions}, f, indent=1)


def payload(cap, p):
    ti = pcaptool.tcp_info(cap["linktype"], p["data"])
    if not ti or ti[6] <= 0:
        return ti, b""
    return ti, p["data"][len(p["data"]) - ti[6]:]


def frames(path):
    """Fill each finding's frame from the capture next to the truth."""
    with open(path) as f:
        t = json.load(f)
    cap = pcaptool.read_pcap(os.path.join(os.path.dirname(path), t["capture"]))
    for s in t["sessions"]:
        for fd in s.get("findings", []):
            marker = fd["marker"].encode().decode("unicode_escape").encode("latin-1")
            best = None
            for i, p in enumerate(cap["packets"], 1):
                ti, data = payload(cap, p)
                end = (ti[0], ti[1]) if fd["side"] == "client" else (ti[2], ti[3])
                if not data or "%s:%d" % end != s["client"]:
                    continue
                if fd["layer"] == "plain" and marker and marker in data:
                    best = i
                    break
                if fd["layer"] != "plain" and p["ts"] >= fd["t"] - 0.0005:
                    best = i
                    break
            if best is None and fd["side"] == "server":
                # a server line glued to a TLS alert (Courier after a failed
                # handshake) starts in the alert's segment: look for its text
                text = marker.lstrip(bytes(range(32)) + bytes(range(127, 256)))
                for i, p in enumerate(cap["packets"], 1):
                    ti, data = payload(cap, p)
                    if data and "%s:%d" % (ti[2], ti[3]) == s["client"] and text in data:
                        best = i
                        break
            if best is None:
                raise SystemExit("%s: no frame for %s %s" % (path, s["case"], fd["rule"]))
            fd["frame"] = best
    with open(path, "w") as f:
        json.dump(t, f, indent=1, ensure_ascii=False)
        f.write("\n")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="op", required=True)
    r = sub.add_parser("run")
    r.add_argument("server", choices=sorted(CASES))
    r.add_argument("--truth", required=True)
    r.add_argument("--user-suffix", default="")
    r.add_argument("--host", default="127.0.0.1")
    r.add_argument("--port", type=int, default=143)
    f = sub.add_parser("frames")
    f.add_argument("truth")
    a = p.parse_args()
    if a.op == "run":
        run(a)
    else:
        frames(a.truth)


if __name__ == "__main__":
    main()
