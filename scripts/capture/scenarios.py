#!/usr/bin/env python3
"""Scripted client scenarios for make-captures.sh.

usage: scenarios.py NAME --truth FRAGMENT.json [--keylog FILE] [--host H]
                         [--port 143] [--tls-port 993] [--transcript FILE]

Each scenario talks to the Dovecot the script started and writes the ground
truth of every session it opened to FRAGMENT.json (see imapclient.py).
Users: alice/alice-pw, bob/bob-pw (passwd-file, {PLAIN}).
"""
import argparse
import imaplib
import sys
import threading
import time

from imapclient import Conn, Literal, Truth, endpoint
from mkmail import planted_message

USERS = {"alice": "alice-pw", "bob": "bob-pw"}

APPEND_MSG = (b"From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\n"
              b"Subject: appended {7}\r\nDate: Fri, 21 Nov 2025 11:00:00 +0000\r\n\r\n"
              b"A009 OK looks like a completion\r\n* 9 EXISTS\r\n" +
              "Grüße — appended body\r\n".encode())


class Ctx:
    def __init__(self, a):
        self.a = a
        self.truth = Truth(a.truth)

    def conn(self, tls=False, host=None, **kw):
        a = self.a
        return Conn(host or a.host, a.tls_port if tls else a.port, truth=self.truth,
                    implicit_tls=tls, keylog=a.keylog, transcript=a.transcript, **kw)


def login(c, user="alice"):
    return c.login(user, USERS[user])


# --------------------------------------------------------------------------
def sc_demo(x):
    """LOGIN, SELECT, FETCH with a literal, LOGOUT: the `make demo` capture."""
    c = x.conn()
    login(c)
    c.cmd("SELECT", "INBOX")
    c.cmd("FETCH", "1", "(FLAGS BODY[])")
    c.logout()


def sc_commands(x):
    """The whole command set, literal-heavy FETCH, lower-case and bad commands."""
    c = x.conn()
    c.cmd("CAPABILITY")
    c.cmd("NOOP")
    c.cmd("ID", '("name" "imapscope-corpus" "version" "1")')
    login(c)
    c.cmd("ENABLE", "CONDSTORE")
    c.cmd("NAMESPACE")
    c.cmd("LIST", '""', '"*"')
    c.cmd("LSUB", '""', '"*"')
    c.cmd("LIST", '""', '"*"', "RETURN", "(SUBSCRIBED CHILDREN)")
    c.cmd("STATUS", "INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
    c.cmd("CREATE", "Scratch")
    c.cmd("CREATE", Literal("Literal Folder"))            # literal mailbox name
    c.cmd("RENAME", "Scratch", "Scratch2")
    c.cmd("SUBSCRIBE", "Scratch2")
    c.cmd("UNSUBSCRIBE", "Scratch2")
    c.cmd("EXAMINE", "INBOX")
    c.cmd("SELECT", "INBOX")
    c.mark("fetch-literals")
    c.cmd("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[])")
    c.cmd("FETCH", "1:3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[TEXT]<0.40>)")
    c.cmd("FETCH", "4", "(BODYSTRUCTURE BODY.PEEK[1])")
    c.cmd("UID", "FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER])", name="UID FETCH")
    c.cmd("SEARCH", "SUBJECT", '"IMAP"')
    c.cmd("SEARCH", "CHARSET", "UTF-8", "BODY", Literal("Grüße".encode()))
    c.cmd("UID", "SEARCH", "ALL", name="UID SEARCH")
    c.cmd("SORT", "(DATE)", "UTF-8", "ALL")
    c.cmd("THREAD", "REFERENCES", "UTF-8", "ALL")
    c.cmd("STORE", "1", "+FLAGS", r"(\Flagged)")
    c.cmd("UID", "STORE", "2", "+FLAGS.SILENT", r"(\Answered)", name="UID STORE")
    c.cmd("COPY", "1:2", "Scratch2")
    c.cmd("UID", "COPY", "3", "Archive", name="UID COPY")
    c.cmd("MOVE", "6", "Scratch2")
    c.cmd("CHECK")
    # lower-case commands are legal IMAP
    c.cmd("noop", lower=True)
    c.cmd("uid", "fetch", "1", "(flags)", lower=True, name="UID FETCH")
    c.cmd("fetch", "2", "(body.peek[header.fields (subject)])", lower=True)
    c.cmd("STORE", "1", "+FLAGS", r"(\Deleted)")
    c.cmd("EXPUNGE")
    c.cmd("UNSELECT")
    c.cmd("SELECT", "Scratch2")
    c.cmd("UID", "STORE", "1:*", "+FLAGS", r"(\Deleted)", name="UID STORE")
    c.cmd("UID", "EXPUNGE", "1:*", name="UID EXPUNGE")
    c.cmd("CLOSE")
    c.cmd("GETQUOTAROOT", "INBOX")                        # no quota plugin: BAD
    c.cmd("XBOGUS", "command")                            # BAD
    c.cmd("FETCH", "1", "(FLAGS)")                        # not selected: BAD
    c.cmd("SELECT", "NoSuchBox")                          # NO
    c.cmd("DELETE", "Scratch2")
    c.cmd("DELETE", "Literal Folder".join('""'))
    c.logout()


def sc_fetch_large(x):
    """One ~200 KB literal: the base for the damaged derivatives."""
    c = x.conn()
    login(c)
    c.cmd("SELECT", "Big")
    time.sleep(0.2)
    tag = c.send_command("FETCH", "1", "(UID BODY[])")
    c.mark("big-fetch", tag=tag)
    c.wait(tag)
    time.sleep(0.2)
    c.cmd("FETCH", "1", "(FLAGS)")
    c.cmd("NOOP")
    c.logout()


def sc_login_failures(x):
    c = x.conn()
    c.login("alice", "wrong-password")
    c.login("mallory", "whatever")
    c.authenticate("PLAIN", "alice", "bad", initial_response=True)
    c.authenticate("LOGIN", "bob", "bad")
    c.authenticate("PLAIN", "alice", "x", cancel=True)       # "*" cancels: BAD
    tag = c.send_command("AUTHENTICATE", "NOSUCHMECH")       # unknown mechanism
    st = c.wait(tag)
    c.session["logins"].append({"user": None, "mechanism": "NOSUCHMECH",
                                "result": "fail", "tag": tag, "layer": "plain",
                                "note": "server refused the mechanism: %s" % st})
    # LOGIN with the password as a synchronising literal, then success
    st = c.cmd("LOGIN", "alice", Literal("alice-pw"))
    c.session["logins"].append({"user": "alice", "mechanism": "LOGIN",
                                "result": "ok" if st == "OK" else "fail",
                                "tag": c.session["commands"][-1]["tag"], "layer": "plain"})
    c.cmd("LOGIN", "alice", "alice-pw")                      # already logged in: BAD
    c.logout()


def sc_auth_mechanisms(x):
    plan = [("PLAIN", False), ("PLAIN", True), ("LOGIN", False), ("CRAM-MD5", False),
            ("DIGEST-MD5", False), ("SCRAM-SHA-1", False), ("SCRAM-SHA-256", False),
            ("SCRAM-SHA-256", True), ("ANONYMOUS", False)]
    for mech, ir in plan:
        c = x.conn()
        user = "bob" if mech in ("CRAM-MD5", "SCRAM-SHA-1") else "alice"
        pw = USERS[user]
        if mech == "ANONYMOUS":
            user, pw = "corpus-trace@example.test", ""
        c.authenticate(mech, user, pw, initial_response=ir)
        c.cmd("NOOP")
        c.logout()


def sc_append(x):
    c = x.conn()
    login(c, "bob")
    c.cmd("APPEND", "INBOX", Literal(APPEND_MSG))                       # synchronising
    c.cmd("APPEND", "INBOX", r"(\Seen \Flagged)", '"21-Nov-2025 11:00:00 +0000"',
          Literal(APPEND_MSG, plus=True))                               # LITERAL+
    c.cmd("APPEND", "Archive", r"(\Seen)", Literal(APPEND_MSG),
          r"(\Draft)", Literal(b"Subject: second of multiappend\r\n\r\nbody\r\n"),
          Literal(b"Subject: third\r\n\r\n{5}\r\n", plus=True))         # MULTIAPPEND
    c.cmd("APPEND", "NoSuchBox", Literal(APPEND_MSG))                   # NO [TRYCREATE]
    c.cmd("APPEND", "NoSuchBox", Literal(APPEND_MSG, plus=True))        # same, LITERAL+
    c.cmd("APPEND", "INBOX", Literal(b""))                              # empty message
    c.cmd("STATUS", "Archive", "(MESSAGES)")
    c.logout()


def sc_idle(x):
    a = x.conn(tag_prefix="i")
    login(a, "alice")
    a.cmd("SELECT", "INBOX")

    def deliver():
        time.sleep(0.5)
        b = x.conn(tag_prefix="d")
        login(b, "bob")
        b.cmd("LOGOUT")
        d = x.conn(tag_prefix="e")
        login(d, "alice")
        d.cmd("APPEND", "INBOX", Literal(APPEND_MSG))
        d.logout()
    t = threading.Thread(target=deliver)
    t.start()
    a.idle_until(lambda r: r.endswith(b"EXISTS\r\n"))
    t.join()
    a.cmd("FETCH", "*", "(FLAGS BODY[HEADER.FIELDS (SUBJECT)])")
    a.logout()


def _tls_session(c, starttls):
    if starttls:
        c.cmd("CAPABILITY")
        c.starttls()
    c.cmd("CAPABILITY")
    login(c)
    c.cmd("SELECT", "INBOX")
    c.cmd("FETCH", "1:3", "(FLAGS BODY.PEEK[])")
    c.logout()


def sc_starttls12(x):
    _tls_session(x.conn(tls_version="1.2"), True)


def sc_starttls13(x):
    _tls_session(x.conn(tls_version="1.3"), True)


def sc_implicit_ecdhe(x):
    _tls_session(x.conn(tls=True, tls_version="1.2", ciphers="ECDHE-RSA-AES128-GCM-SHA256"), False)
    _tls_session(x.conn(tls=True, tls_version="1.3"), False)


def sc_implicit_rsa(x):
    _tls_session(x.conn(tls=True, tls_version="1.2", ciphers="AES128-GCM-SHA256"), False)


def _compress_session(c):
    login(c)
    c.compress()
    c.cmd("SELECT", "INBOX")
    c.cmd("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    c.cmd("APPEND", "Archive", Literal(APPEND_MSG))
    c.cmd("NOOP")
    c.logout()


def sc_compress(x):
    _compress_session(x.conn())


def sc_compress_tls(x):
    _compress_session(x.conn(tls=True, tls_version="1.3"))


def sc_dual_stack(x):
    """Concurrent IPv4 and IPv6 sessions with interleaved commands."""
    c4 = x.conn(host="127.0.0.1", tag_prefix="v4")
    c6 = x.conn(host="::1", tag_prefix="v6")
    login(c4, "alice")
    login(c6, "bob")
    for i in range(3):
        t4 = c4.send_command("SELECT" if i == 0 else "NOOP", *(["INBOX"] if i == 0 else []))
        t6 = c6.send_command("SELECT" if i == 0 else "NOOP", *(["INBOX"] if i == 0 else []))
        c4.wait(t4)
        c6.wait(t6)
        t4 = c4.send_command("FETCH", "%d" % (i + 1), "(BODY.PEEK[])")
        t6 = c6.send_command("FETCH", "%d" % (i + 2), "(BODY.PEEK[])")
        c6.wait(t6)
        c4.wait(t4)
    # pipelined commands in one write
    tags = [c4.send_command("NOOP"), c4.send_command("CHECK"), c4.send_command("NOOP")]
    for t in tags:
        c4.wait(t)
    c4.logout()
    c6.logout()


def sc_loss(x):
    """Run under packet loss: small fetches and one large literal."""
    c = x.conn()
    login(c)
    c.cmd("SELECT", "INBOX")
    for _ in range(3):
        c.cmd("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    c.cmd("SELECT", "Big")
    c.cmd("FETCH", "1", "(BODY.PEEK[])")
    c.cmd("NOOP")
    c.logout()


def sc_snaplen(x):
    c = x.conn()
    login(c)
    c.cmd("SELECT", "INBOX")
    c.cmd("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    c.cmd("APPEND", "Archive", Literal(APPEND_MSG * 4))
    c.cmd("NOOP")
    c.logout()


# --- imaplib, recorded by hooking its command and tagged-response paths ----
class RecordingIMAP4Mixin:
    """Hooks imaplib to record tag, command and status; wraps the socket
    reads/writes to keep a byte transcript."""

    def _sess(self):
        # created lazily: imaplib sends CAPABILITY from inside __init__
        if getattr(self, "_session", None) is None:
            s = self.sock
            ssl_sock = hasattr(s, "cipher")
            self._layer = "tls" if ssl_sock else "plain"
            self._session = {"client": endpoint(s.getsockname()),
                             "server": endpoint(s.getpeername()),
                             "source": "python3 imaplib", "tls": None, "compress": False,
                             "commands": [], "logins": [], "marks": []}
            if ssl_sock:
                self._session["tls"] = {"phase": "implicit", "version": s.version(),
                                        "cipher": s.cipher()[0]}
        return self._session

    def _rec_init(self, x):
        x.truth.add(self._sess())

    def _command(self, name, *args):
        cmd = name
        if name == "UID":
            cmd = "UID " + args[0].upper()
        self._sess()
        self._layer = "tls" if hasattr(self.sock, "cipher") else "plain"
        rec = {"tag": None, "command": cmd, "status": None, "layer": self._layer,
               "t_sent": time.time(), "t_done": None}
        tag = super()._command(name, *args)
        rec["tag"] = tag.decode() if isinstance(tag, bytes) else tag
        self._session["commands"].append(rec)
        return tag

    def _get_tagged_response(self, tag, expect_bye=False):
        result = super()._get_tagged_response(tag, expect_bye)
        t = tag.decode() if isinstance(tag, bytes) else tag
        for rec in self._sess()["commands"]:
            if rec["tag"] == t:
                # LOGOUT returns "BYE" without reading the tagged OK: the
                # client never saw a status, so the truth says "none"
                rec["status"] = result[0] if result[0] in ("OK", "NO", "BAD") else "none"
                rec["t_done"] = time.time()
        return result

    def _login_rec(self, user, mech, fn):
        try:
            typ, _ = fn()
            res = "ok" if typ == "OK" else "fail"
        except self.error:
            res = "fail"
        self._session["logins"].append({"user": user, "mechanism": mech, "result": res,
                                        "tag": self._session["commands"][-1]["tag"],
                                        "layer": self._layer})
        return res

    def starttls(self, ssl_context=None):
        r = super().starttls(ssl_context)
        self._layer = "tls"
        self._session["tls"] = {"phase": "starttls", "version": self.sock.version(),
                                "cipher": self.sock.cipher()[0]}
        return r


class RecIMAP4(RecordingIMAP4Mixin, imaplib.IMAP4):
    pass


class RecIMAP4_SSL(RecordingIMAP4Mixin, imaplib.IMAP4_SSL):
    pass


def _imaplib_work(m, x):
    m._login_rec("alice", "LOGIN", lambda: m.login("alice", "nope"))
    m._login_rec("alice", "LOGIN", lambda: m.login("alice", USERS["alice"]))
    m.list()
    m.select("INBOX")
    m.search(None, "ALL")
    m.fetch("1:*", "(RFC822)")
    m.uid("FETCH", "1:2", "(BODY.PEEK[HEADER])")
    m.uid("SEARCH", None, "ALL")
    m.store("2", "+FLAGS", r"(\Seen)")
    m.append("Archive", r"(\Seen)", None, APPEND_MSG)
    m.noop()
    m.close()
    m.logout()


def _ctx(x, version=None):
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if x.a.keylog:
        ctx.keylog_filename = x.a.keylog
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def sc_imaplib(x):
    m = RecIMAP4(x.a.host, x.a.port)
    m._rec_init(x)
    _imaplib_work(m, x)


def sc_imaplib_tls(x):
    m = RecIMAP4(x.a.host, x.a.port)
    m._rec_init(x)
    m.capability()
    m.starttls(_ctx(x, "1.2"))
    _imaplib_work(m, x)
    m = RecIMAP4_SSL(x.a.host, x.a.tls_port, ssl_context=_ctx(x))
    m._rec_init(x)
    _imaplib_work(m, x)


# --- mailbox activity (issue 17): the client records each action's truth ----
def _activity_session(c, compress=False):
    """What an intruder with alice's password does: reads, flags, deletes,
    copies and moves away, plants a message, makes and removes folders.
    INBOX holds UIDs 1-6 (mkmail.py); seq 2 is read before any UID is known.
    compress: COMPRESS DEFLATE right after LOGIN (Dovecot refuses it before)."""
    login(c)
    if compress and c.compress() != "OK":
        raise SystemExit("COMPRESS refused")
    c.cmd("LIST", '""', '"*"')
    c.cmd("SELECT", "INBOX")
    c.cmd("FETCH", "2", "(BODY.PEEK[])")                 # uid not known yet: null
    c.cmd("FETCH", "1:*", "(UID RFC822.SIZE FLAGS)")     # the seq -> UID map
    c.cmd("FETCH", "1", "(ENVELOPE)")
    c.cmd("FETCH", "3", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT FROM DATE)])")
    c.cmd("FETCH", "1", "(BODY.PEEK[]<0.100>)")          # partial
    c.cmd("FETCH", "4", "(RFC822)")                      # sets \Seen; folded Subject
    c.cmd("STORE", "2", "+FLAGS", r"(\Flagged)")
    c.cmd("STORE", "2", "-FLAGS", r"(\Flagged)")
    c.cmd("STORE", "5", "FLAGS", r"(\Seen \Answered)")
    c.cmd("COPY", "1:2", "Archive")
    c.cmd("COPY", "3", "Stolen")                         # NO [TRYCREATE]
    c.cmd("STORE", "3", "+FLAGS.SILENT", r"(\Deleted)")
    c.cmd("EXPUNGE")                                     # uid 3 goes; 4-6 become 3-5
    c.cmd("FETCH", "3", "(BODY.PEEK[HEADER])")           # now uid 4
    c.cmd("MOVE", "4", "Archive")                        # uid 5; 6 becomes 4
    c.cmd("SEARCH", "UNSEEN")
    c.cmd("SEARCH", "SUBJECT", '"IMAP"')
    c.cmd("CREATE", "Loot")
    c.cmd("RENAME", "Loot", "Exfil")
    c.cmd("SUBSCRIBE", "Exfil")
    c.cmd("APPEND", "Exfil", r"(\Seen \Flagged)", '"22-Nov-2025 09:15:00 +0100"',
          Literal(planted_message()))
    c.cmd("UNSUBSCRIBE", "Exfil")
    # pipelined: three tags in flight, written at once
    tags = [c.send_command("FETCH", "1", "(FLAGS BODY.PEEK[TEXT])"),
            c.send_command("UID", "STORE", "6", "+FLAGS", r"(\Seen)", name="UID STORE"),
            c.send_command("UID", "FETCH", "6", "(ENVELOPE BINARY.PEEK[2])", name="UID FETCH")]
    for t in tags:
        c.wait(t)
    c.cmd("STORE", "1", "+FLAGS", r"(\Deleted)")
    c.cmd("CLOSE")                                       # expunges uid 1 silently
    c.cmd("EXAMINE", "Archive")
    c.cmd("DELETE", "Exfil")
    c.logout()


def sc_activity(x):
    _activity_session(x.conn(activity=True))


def sc_activity_starttls(x):
    c = x.conn(activity=True, tls_version="1.3")
    if c.starttls() != "OK":
        raise SystemExit("STARTTLS refused")
    _activity_session(c)


def sc_activity_compress(x):
    _activity_session(x.conn(activity=True), compress=True)


def sc_activity_compress_tls(x):
    _activity_session(x.conn(tls=True, activity=True, tls_version="1.3"), compress=True)


def sc_activity_qresync(x):
    """QRESYNC: UID EXPUNGE answered by VANISHED; a second session resyncs
    with SELECT (QRESYNC ...) and gets VANISHED (EARLIER) for what the first
    removed (not an action of its own)."""
    a = x.conn(activity=True, tag_prefix="q")
    login(a)
    a.cmd("ENABLE", "QRESYNC")
    a.cmd("SELECT", "INBOX")
    uidv = a.activity.uidvalidity
    modseq = a.activity.highestmodseq
    a.cmd("UID", "FETCH", "1:*", "(FLAGS)", name="UID FETCH")
    a.cmd("UID", "STORE", "2", "+FLAGS.SILENT", r"(\Deleted)", name="UID STORE")
    a.cmd("UID", "EXPUNGE", "2", name="UID EXPUNGE")   # * VANISHED 2
    a.logout()
    b = x.conn(activity=True, tag_prefix="r")
    login(b)
    b.cmd("ENABLE", "QRESYNC")
    b.cmd("SELECT", "INBOX", "(QRESYNC (%d %d 1:6))" % (uidv, modseq))
    b.cmd("FETCH", "1:*", "(UID FLAGS)")
    b.cmd("UID", "FETCH", "3", "(BODY.PEEK[])", name="UID FETCH")
    b.cmd("UID", "STORE", "4:5", "+FLAGS", r"(\Deleted)", name="UID STORE")
    b.cmd("UID", "EXPUNGE", "4:5", name="UID EXPUNGE")   # * VANISHED 4:5
    b.cmd("FETCH", "3", "(ENVELOPE)")                    # seq 3 is uid 6 now
    b.cmd("CLOSE")
    b.logout()


def sc_activity_concurrent(x):
    """Another session changes the mailbox under a selected one: its APPEND
    and EXPUNGE reach the first as EXISTS and EXPUNGE on a NOOP (the map
    follows them; they are no action of the first session), which then reads
    the new message and a renumbered one by sequence number."""
    a = x.conn(activity=True, tag_prefix="c")
    login(a)
    a.cmd("SELECT", "INBOX")
    a.cmd("FETCH", "1:*", "(UID FLAGS)")
    b = x.conn(activity=True, tag_prefix="d")
    login(b)
    b.cmd("APPEND", "INBOX", Literal(planted_message()))
    b.cmd("SELECT", "INBOX")
    b.cmd("STORE", "2", "+FLAGS.SILENT", r"(\Deleted)")
    b.cmd("EXPUNGE")
    b.logout()
    a.cmd("NOOP")                                        # * 2 EXPUNGE, * 6 EXISTS
    a.cmd("FETCH", "6", "(UID BODY.PEEK[])")             # the appended message
    a.cmd("FETCH", "2", "(ENVELOPE)")                    # uid 3 since the EXPUNGE
    a.logout()


def sc_activity_uid(x):
    """A client that fetches by UID only (the way sync clients work): every
    message command is a UID command; sequence numbers come from the server's
    answers only."""
    c = x.conn(activity=True)
    login(c, "bob")
    c.cmd("EXAMINE", "Archive")
    c.cmd("SELECT", "INBOX")
    c.cmd("UID", "SEARCH", "ALL", name="UID SEARCH")
    c.cmd("UID", "FETCH", "2,4", "(BODY.PEEK[])", name="UID FETCH")
    c.cmd("UID", "FETCH", "1:*", "(UID RFC822.SIZE FLAGS)", name="UID FETCH")
    c.cmd("UID", "FETCH", "5", "(ENVELOPE)", name="UID FETCH")
    c.cmd("UID", "FETCH", "3", "(ENVELOPE)", name="UID FETCH")  # RFC 2047 Subject
    c.cmd("UID", "FETCH", "6", "(BODY[1])", name="UID FETCH")   # not PEEK: sets \Seen
    c.cmd("UID", "STORE", "3", "+FLAGS", r"(\Seen \Flagged)", name="UID STORE")
    c.cmd("UID", "COPY", "1", "Archive", name="UID COPY")
    c.cmd("UID", "MOVE", "5:6", "Archive", name="UID MOVE")
    c.cmd("UID", "STORE", "4", "+FLAGS.SILENT", r"(\Deleted)", name="UID STORE")
    c.cmd("UID", "EXPUNGE", "4", name="UID EXPUNGE")
    c.cmd("UID", "SEARCH", "FLAGGED", name="UID SEARCH")
    c.logout()


SCENARIOS = {k[3:].replace("_", "-"): v for k, v in globals().items() if k.startswith("sc_")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("name", choices=sorted(SCENARIOS))
    p.add_argument("--truth", required=True)
    p.add_argument("--keylog")
    p.add_argument("--transcript")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=143)
    p.add_argument("--tls-port", type=int, default=993)
    a = p.parse_args()
    x = Ctx(a)
    try:
        SCENARIOS[a.name](x)
    finally:
        x.truth.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
