#!/usr/bin/env python3
"""Fill a fresh server's mailboxes over IMAP, before any capture starts.

usage: seed.py HOST PORT USER PASSWORD [USER PASSWORD ...]

Servers that keep mail in their own store (Cyrus) or whose layout differs
from Dovecot's Maildir (imap4d, Courier) get the same deterministic messages
as mkmail.py writes for Dovecot: INBOX with the six hostile messages (odd ones
\\Seen), "Big" with the ~200 KB message, an empty "Archive".  Nothing here is
recorded: tcpdump is not running yet.
"""
import os
import sys

from imapclient import Conn, Literal
from mkmail import big_message, messages


# Courier keeps every folder under "INBOX." (SEED_PREFIX=INBOX.)
PREFIX = os.environ.get("SEED_PREFIX", "")


def seed(host, port, user, password):
    c = Conn(host, port)
    if c.login(user, password) != "OK":
        raise SystemExit("seed: LOGIN %s refused" % user)
    for box in ("Archive", "Big"):
        c.cmd("CREATE", PREFIX + box)   # NO when it exists already: fine
    for n, data in enumerate(messages(), 1):
        st = c.cmd("APPEND", "INBOX", r"(\Seen)" if n % 2 else "()", Literal(data))
        if st != "OK":
            raise SystemExit("seed: APPEND to INBOX of %s: %s" % (user, st))
    if c.cmd("APPEND", PREFIX + "Big", Literal(big_message())) != "OK":
        raise SystemExit("seed: APPEND to Big of %s refused" % user)
    c.cmd("SUBSCRIBE", PREFIX + "Archive")
    c.cmd("SUBSCRIBE", PREFIX + "Big")
    c.logout()


def main():
    host, port, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    for i in range(0, len(rest) - 1, 2):
        seed(host, port, rest[i], rest[i + 1])


if __name__ == "__main__":
    main()
