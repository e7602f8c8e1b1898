#!/usr/bin/env python3
"""The scripted scenarios of scenarios.py against servers other than Dovecot.

usage: scenarios_more.py SCENARIO[,SCENARIO...] --truth FRAGMENT.json
                         [--user-suffix @example.test] [--keylog FILE] ...

Runs several scenarios of scenarios.py in one process (one capture per
server and theme keeps the corpus small) and adds the ones that must adapt to
the server: "auth-advertised" tries every SASL mechanism the server lists
that imapclient.py speaks, and the TLS ones only use what the server offers.
--user-suffix: GNU imap4d's virtual domains want "alice@example.test".
A scenario that a server refuses part of still records what happened: the
truth is what the client sent and read, never what Dovecot would have said.
"""
import argparse
import sys
import time

import scenarios
from imapclient import SASL

SUFFIX = ""
_plain_login = scenarios.login


def login(c, user="alice"):
    return c.login(user + SUFFIX, scenarios.USERS[user])


def capabilities(c):
    """The capabilities in force, from CAPABILITY (the truth records it)."""
    c.cmd("CAPABILITY")
    caps = set()
    for u in c.untagged:
        if u.upper().startswith(b"* CAPABILITY "):
            caps = set(u[13:].decode().upper().split())
    c.untagged.clear()
    return caps


def sc_auth_advertised(x):
    c = x.conn()
    caps = capabilities(c)
    c.logout()
    mechs = [m[5:] for m in sorted(caps) if m.startswith("AUTH=") and m[5:] in SASL]
    for mech in mechs:
        for ir in ((False, True) if "SASL-IR" in caps and mech == "PLAIN" else (False,)):
            c = x.conn()
            c.sock.settimeout(10)
            user = "bob" if mech in ("CRAM-MD5", "SCRAM-SHA-1") else "alice"
            pw = scenarios.USERS[user]
            if mech == "ANONYMOUS":
                user, pw = "corpus-trace@example.test", ""
            else:
                user += SUFFIX
            try:
                c.authenticate(mech, user, pw, initial_response=ir)
                c.cmd("NOOP")
                c.logout()
            except (ValueError, KeyError, EOFError, OSError) as e:
                # a mechanism the server lists but cannot run with our users
                # (GNU SASL's DIGEST-MD5 without a realm): keep the truth as read
                c.session["marks"].append({"name": "client-gave-up", "t": time.time(),
                                           "error": str(e)[:120]})
                c.close()


def sc_starttls_more(x):
    c = x.conn(tls_version="1.3")
    caps = capabilities(c)
    if "STARTTLS" in caps and c.starttls() == "OK":
        capabilities(c)
    login(c)
    c.cmd("SELECT", "INBOX")
    c.cmd("FETCH", "1:3", "(FLAGS BODY.PEEK[])")
    c.logout()


def sc_implicit_more(x):
    c = x.conn(tls=True, tls_version="1.3")
    caps = capabilities(c)
    login(c)
    if "COMPRESS=DEFLATE" in caps or "COMPRESS=DEFLATE" in capabilities(c):
        c.compress()
    c.cmd("SELECT", "INBOX")
    c.cmd("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    c.cmd("NOOP")
    c.logout()


def sc_compress_more(x):
    c = x.conn()
    login(c)
    if "COMPRESS=DEFLATE" in capabilities(c):
        c.compress()
    c.cmd("SELECT", "INBOX")
    c.cmd("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    c.cmd("APPEND", "Archive", scenarios.Literal(scenarios.APPEND_MSG))
    c.cmd("NOOP")
    c.logout()


def sc_idle_more(x):
    """IDLE while another session APPENDs; DONE after the EXISTS or after 3 s
    (GNU imap4d reports nothing during IDLE), so the scenario never hangs."""
    a = x.conn(tag_prefix="i")
    login(a, "alice")
    a.cmd("SELECT", "INBOX")
    tag = a.send_command("IDLE")
    if a._wait_continuation(tag):
        d = x.conn(tag_prefix="e")
        login(d, "alice")                       # the same mailbox
        d.cmd("APPEND", "INBOX", scenarios.Literal(scenarios.APPEND_MSG))
        d.logout()
        a.sock.settimeout(3)
        try:
            while not a.read_response().endswith(b"EXISTS\r\n"):
                pass
        except OSError:
            pass
        a.sock.settimeout(None)
        a._send(b"DONE\r\n")
        a.wait(tag)
    a.cmd("NOOP")
    a.logout()


MORE = {"idle-more": sc_idle_more, "auth-advertised": sc_auth_advertised, "starttls-more": sc_starttls_more,
        "implicit-more": sc_implicit_more, "compress-more": sc_compress_more}


def main():
    global SUFFIX
    p = argparse.ArgumentParser()
    p.add_argument("names")
    p.add_argument("--truth", required=True)
    p.add_argument("--keylog")
    p.add_argument("--transcript")
    p.add_argument("--user-suffix", default="")
    p.add_argument("--no-literal-plus", action="store_true",
                   help="the server lacks LITERAL+ (Courier): send every literal synchronising")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=143)
    p.add_argument("--tls-port", type=int, default=993)
    a = p.parse_args()
    SUFFIX = a.user_suffix
    scenarios.login = login          # the scenarios look it up at call time
    if a.no_literal_plus:
        # a well-behaved client does not send {n+} where it is not advertised
        class SyncLiteral(scenarios.Literal):
            def __init__(self, data, plus=False):
                super().__init__(data, False)
        scenarios.Literal = SyncLiteral
    if SUFFIX:
        # imaplib logs in by itself: give it the suffixed names too
        orig = scenarios._imaplib_work

        def work(m, x):
            login_fn, rec_fn = m.login, m._login_rec
            m.login = lambda u, pw: login_fn(u + SUFFIX, pw)
            m._login_rec = lambda u, mech, fn: rec_fn(u + SUFFIX, mech, fn)
            return orig(m, x)
        scenarios._imaplib_work = work
    x = scenarios.Ctx(a)
    try:
        for name in a.names.split(","):
            fn = MORE.get(name) or scenarios.SCENARIOS[name]
            try:
                fn(x)
            except (EOFError, OSError) as e:
                # the server dropped the connection (GNU imap4d 3.15 does on
                # an empty APPEND): the truth keeps what was sent, with
                # status "none" for what never completed; go on with the next
                s = x.truth.sessions[-1]
                s["marks"].append({"name": "server-dropped", "t": time.time(),
                                   "scenario": name, "error": str(e)[:120]})
                print("scenarios_more: %s: %s" % (name, e), file=sys.stderr)
            time.sleep(0.2)
    finally:
        x.truth.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
