#!/usr/bin/env python3
"""A small scripted IMAP client that records ground truth from the client side.

It speaks raw IMAP over a socket (plain, STARTTLS, implicit TLS, COMPRESS
DEFLATE on top of either) so that it can send what stock clients cannot:
literal-heavy commands, LITERAL+, MULTIAPPEND, lower-case commands, every SASL
mechanism, deliberate failures.  Every command it sends is recorded with its
tag, upper-case name, the status of the tagged response it read back, the
layer it travelled in (plain, tls, compress, tls+compress) and client-clock
send/completion times.  Login attempts are recorded with user, mechanism and
result.  `Conn.session` is the per-session truth; `Truth` collects sessions
and writes a fragment file that make-captures.sh assembles.

Standard library only.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import time
import zlib

from activity import Activity

LITERAL_RE = re.compile(rb"\{(\d+)(\+?)\}\r\n$")


def endpoint(addr):
    host, port = addr[0], addr[1]
    return ("[%s]:%d" % (host, port)) if ":" in host else ("%s:%d" % (host, port))


class Literal:
    """A literal argument: synchronising by default, LITERAL+ if plus."""

    def __init__(self, data, plus=False):
        self.data = data if isinstance(data, bytes) else data.encode()
        self.plus = plus


class Truth:
    """Collects the sessions of one client process; writes one fragment."""

    def __init__(self, path):
        self.path = path
        self.sessions = []

    def add(self, session):
        self.sessions.append(session)

    def write(self):
        if not self.path:
            return
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        with open(self.path, "w") as f:
            json.dump({"sessions": self.sessions}, f, indent=1)


class Conn:
    def __init__(self, host, port, truth=None, implicit_tls=False, keylog=None,
                 tls_version=None, ciphers=None, source="imapclient.py",
                 tag_prefix="a", family=None, transcript=None, activity=False):
        fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.connect((host, port))
        self.host = host
        self.keylog = keylog
        self.tls_version = tls_version
        self.ciphers = ciphers
        self.rbuf = b""
        self.tagn = 0
        self.tag_prefix = tag_prefix
        self.deflate = None
        self.inflate = None
        self.layer = "plain"
        self.untagged = []
        self.transcript = open(transcript, "ab") if transcript else None
        self.session = {
            "client": endpoint(self.sock.getsockname()),
            "server": endpoint(self.sock.getpeername()),
            "source": source,
            "tls": None,
            "compress": False,
            "commands": [],
            "logins": [],
            "marks": [],
        }
        # activity=True: the session's truth gets an "activity" list (activity.py)
        self.activity = Activity(self.session) if activity else None
        if truth is not None:
            truth.add(self.session)
        if implicit_tls:
            self._start_tls("implicit")
        self.greeting = self.read_response()

    # ---- transport -------------------------------------------------------
    def _start_tls(self, phase):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if self.keylog:
            ctx.keylog_filename = self.keylog
        if self.tls_version == "1.2":
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        elif self.tls_version == "1.3":
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        if self.ciphers:
            ctx.set_ciphers(self.ciphers)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="imap.example.test")
        self.session["tls"] = {"phase": phase, "version": self.sock.version(),
                               "cipher": self.sock.cipher()[0]}
        self.layer = "tls"

    def _send(self, data):
        if self.transcript:
            self.transcript.write(b">" + data)
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        if self.inflate:
            data = self.inflate.decompress(data)
        if self.transcript:
            self.transcript.write(b"<" + data)
        self.rbuf += data

    def _readline(self):
        while b"\r\n" not in self.rbuf:
            self._fill()
        i = self.rbuf.index(b"\r\n") + 2
        line, self.rbuf = self.rbuf[:i], self.rbuf[i:]
        return line

    def _readn(self, n):
        while len(self.rbuf) < n:
            self._fill()
        data, self.rbuf = self.rbuf[:n], self.rbuf[n:]
        return data

    def read_response(self):
        """One logical server response, literals included."""
        line = self._readline()
        while True:
            m = LITERAL_RE.search(line)
            if not m:
                return line
            line += self._readn(int(m.group(1)))
            line += self._readline()

    # ---- commands --------------------------------------------------------
    def next_tag(self):
        self.tagn += 1
        return "%s%03d" % (self.tag_prefix, self.tagn)

    def mark(self, name, **kw):
        self.session["marks"].append(dict(name=name, t=time.time(), **kw))

    def send_command(self, command, *args, lower=False, name=None, tag=None):
        """Send one command (without waiting for its completion); returns the
        tag.  args are bytes/str (sent as is, space-separated) or Literal."""
        tag = tag or self.next_tag()
        rec = {"tag": tag, "command": (name or command).upper(), "status": None,
               "layer": self.layer, "t_sent": time.time(), "t_done": None}
        self.session["commands"].append(rec)
        if self.activity:
            words = rec["command"].split(" ")
            self.activity.sent(tag, rec["command"], list(args[len(words) - 1:]))
        wire = (command.lower() if lower else command).encode()
        buf = tag.encode() + b" " + wire
        for a in args:
            if isinstance(a, Literal):
                buf += b" {%d%s}\r\n" % (len(a.data), b"+" if a.plus else b"")
                if not a.plus:
                    self._send(buf)
                    buf = b""
                    if not self._wait_continuation(tag):
                        return tag          # refused before the literal
                buf += a.data
            else:
                a = a if isinstance(a, bytes) else a.encode()
                buf += (b"" if buf.endswith(b"\n") or not buf else b" ") + a
        buf += b"\r\n"
        self._send(buf)
        return tag

    def _record_done(self, tag, status, text):
        for rec in self.session["commands"]:
            if rec["tag"] == tag and rec["status"] is None:
                rec["status"] = status
                rec["t_done"] = time.time()
                rec["text"] = text
                return

    def _handle(self, resp):
        """Process one response; returns (tag, status) if it was tagged."""
        if resp.startswith(b"* "):
            self.untagged.append(resp)
            if self.activity:
                self.activity.untagged(resp)
            return None
        if resp.startswith(b"+"):
            return ("+", resp)
        parts = resp.split(b" ", 2)
        if len(parts) >= 2 and parts[1] in (b"OK", b"NO", b"BAD"):
            tag = parts[0].decode()
            status = parts[1].decode()
            self._record_done(tag, status, resp.decode("utf-8", "replace").strip())
            if self.activity:
                self.activity.done(tag, status, resp.decode("utf-8", "replace").strip())
            return (tag, status)
        raise ValueError("unexpected server line %r" % resp[:80])

    def _wait_continuation(self, tag):
        while True:
            r = self._handle(self.read_response())
            if r and r[0] == "+":
                return True
            if r and r[0] == tag:
                return False

    def wait(self, tag):
        """Read until the tagged response for tag; returns its status."""
        for rec in self.session["commands"]:
            if rec["tag"] == tag and rec["status"] is not None:
                return rec["status"]
        while True:
            r = self._handle(self.read_response())
            if r and r[0] == tag:
                return r[1]

    def cmd(self, command, *args, **kw):
        return self.wait(self.send_command(command, *args, **kw))

    # ---- session-level helpers -------------------------------------------
    def login(self, user, password, lower=False):
        st = self.cmd("LOGIN", user, '"%s"' % password, lower=lower)
        self.session["logins"].append({"user": user, "mechanism": "LOGIN",
                                       "result": "ok" if st == "OK" else "fail",
                                       "tag": self.session["commands"][-1]["tag"],
                                       "layer": self.layer})
        if st == "OK" and self.activity:
            self.activity.login_ok(user)
        return st

    def starttls(self):
        st = self.cmd("STARTTLS")
        if st == "OK":
            self.rbuf = b""
            self._start_tls("starttls")
        return st

    def compress(self):
        st = self.cmd("COMPRESS", "DEFLATE")
        if st == "OK":
            self.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
            self.inflate = zlib.decompressobj(-15)
            self.session["compress"] = True
            self.layer = "tls+compress" if self.layer == "tls" else "compress"
        return st

    def idle_until(self, predicate, timeout=10.0):
        """IDLE; return once an untagged response satisfies predicate."""
        tag = self.send_command("IDLE")
        if not self._wait_continuation(tag):
            return tag
        self.sock.settimeout(timeout)
        try:
            while True:
                resp = self.read_response()
                self._handle(resp)
                if resp.startswith(b"* ") and predicate(resp):
                    break
        finally:
            self.sock.settimeout(None)
        self._send(b"DONE\r\n")
        self.wait(tag)
        return tag

    def authenticate(self, mech, user, password, initial_response=False,
                     cancel=False, authzid=""):
        """AUTHENTICATE with any of the mechanisms below; records the attempt."""
        steps = SASL[mech](user, password, authzid)
        first = next(steps)               # initial client response or None
        args = [mech]
        if initial_response and first is not None:
            args.append(base64.b64encode(first).decode() or "=")
            first = None
        tag = self.send_command("AUTHENTICATE", *args)
        pending_first = first
        while True:
            resp = self.read_response()
            r = self._handle(resp)
            if r and r[0] == "+":
                if cancel:
                    self._send(b"*\r\n")
                    continue
                challenge = base64.b64decode(resp[1:].strip() or b"")
                if pending_first is not None:
                    out, pending_first = pending_first, None
                else:
                    try:
                        out = steps.send(challenge)
                    except StopIteration:
                        out = b""
                self._send(base64.b64encode(out) + b"\r\n")
            elif r and r[0] == tag:
                break
        st = r[1]
        # a cancelled exchange never sent the user name
        self.session["logins"].append({"user": None if cancel else user, "mechanism": mech,
                                       "result": "ok" if st == "OK" else
                                       "aborted" if cancel else "fail",
                                       "tag": tag, "layer": self.layer})
        if st == "OK" and self.activity:
            self.activity.login_ok(user)
        return st

    def logout(self):
        tag = self.send_command("LOGOUT")
        try:
            self.wait(tag)
        except EOFError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        if self.transcript:
            self.transcript.close()
            self.transcript = None


# ---- SASL mechanisms (generators: first yield = initial response) --------
def sasl_plain(user, password, authzid):
    yield ("%s\0%s\0%s" % (authzid, user, password)).encode()


def sasl_login(user, password, authzid):
    yield None
    yield user.encode()
    yield password.encode()


def sasl_cram_md5(user, password, authzid):
    challenge = yield None
    digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
    yield ("%s %s" % (user, digest)).encode()


def sasl_anonymous(user, password, authzid):
    yield user.encode()


def sasl_digest_md5(user, password, authzid):
    challenge = yield None
    fields = {k: a or b for k, a, b in
              re.findall(r'(\w+)=(?:"([^"]*)"|([^,]*))', challenge.decode())}
    realm = fields.get("realm", "")
    nonce = fields["nonce"]
    cnonce = base64.b64encode(os.urandom(12)).decode()
    uri = "imap/imap.example.test"
    h = lambda s: hashlib.md5(s).digest()
    hx = lambda s: hashlib.md5(s).hexdigest()
    a1 = h(("%s:%s:%s" % (user, realm, password)).encode()) + \
        (":%s:%s" % (nonce, cnonce)).encode()
    a2 = ("AUTHENTICATE:%s" % uri).encode()
    resp = hx(("%s:%s:00000001:%s:auth:%s" % (hx(a1), nonce, cnonce, hx(a2))).encode())
    out = ('username="%s",realm="%s",nonce="%s",cnonce="%s",nc=00000001,'
           'qop=auth,digest-uri="%s",response=%s,charset=utf-8'
           % (user, realm, nonce, cnonce, uri, resp))
    yield out.encode()
    yield b""


def _scram(hname):
    def mech(user, password, authzid):
        nonce = base64.b64encode(os.urandom(18)).decode()
        bare = "n=%s,r=%s" % (user, nonce)
        server_first = yield None
        server_first = yield ("n,," + bare).encode()
        f = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        salt = base64.b64decode(f["s"])
        salted = hashlib.pbkdf2_hmac(hname, password.encode(), salt, int(f["i"]))
        ckey = hmac.new(salted, b"Client Key", hname).digest()
        skey_stored = hashlib.new(hname, ckey).digest()
        final_bare = "c=biws,r=%s" % f["r"]
        auth_msg = ("%s,%s,%s" % (bare, server_first.decode(), final_bare)).encode()
        sig = hmac.new(skey_stored, auth_msg, hname).digest()
        proof = bytes(a ^ b for a, b in zip(ckey, sig))
        yield ("%s,p=%s" % (final_bare, base64.b64encode(proof).decode())).encode()
        yield b""
    return mech


def _scram_first_is_none(gen_factory):
    """SCRAM has no empty initial challenge in IMAP without SASL-IR: the
    client-first message answers the first (empty) '+'."""
    def mech(user, password, authzid):
        g = gen_factory(user, password, authzid)
        next(g)                                  # None
        client_first = g.send(None)
        challenge = yield client_first           # initial response
        while True:
            challenge = yield g.send(challenge)
    return mech


SASL = {
    "PLAIN": sasl_plain,
    "LOGIN": sasl_login,
    "CRAM-MD5": sasl_cram_md5,
    "DIGEST-MD5": sasl_digest_md5,
    "ANONYMOUS": sasl_anonymous,
    "SCRAM-SHA-1": _scram_first_is_none(_scram("sha1")),
    "SCRAM-SHA-256": _scram_first_is_none(_scram("sha256")),
}
