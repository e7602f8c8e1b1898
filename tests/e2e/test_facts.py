#!/usr/bin/env python3
"""--summary reads the session's facts, not the command's text (issue 16,
item 2): the mailboxes a session selected are the names the session decoded.

One generated session selects
  - a non-synchronising literal:   a2 SELECT {5+}\\r\\nINBOX      -> INBOX
  - a synchronising literal:       a3 EXAMINE {4}  (+)  Junk     -> Junk
  - a quoted string with escapes:  a4 SELECT "Sent \\"Items\\""   -> Sent "Items"
  - a modified UTF-7 name:         a5 SELECT Entw&APw-rfe       -> Entwürfe
and one SELECT the server refuses (not listed).  Before, --summary listed
"{5+}" and "{4}" (the literal markers of the rendered command) and the
modified UTF-7 as sent.

Where the decoded name shows: --summary (text and JSON) lists the mailboxes
decoded (UTF-8: "Entwürfe", printed as is since it is valid UTF-8); the
timeline (-F text, -F json "args") still shows the command as it crossed the
wire ("Entw&APw-rfe", literals as {N}), which is what it is for.

The capture is generated in a temporary directory with the pcap writer of
test_hostile.py; runs and checks are test_logins_audit.py's."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_logins_audit as audit  # noqa: E402  (check, run: one imapscope run)
from test_hostile import Conn, Pcap  # noqa: E402

check, run = audit.check, audit.run
WANT = ["INBOX", "Junk", 'Sent "Items"', "Entwürfe"]


def write_capture(path):
    p = Pcap(path)
    c = Conn(p)
    c.send("s", b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n")
    c.send("c", b"a1 LOGIN alice secret\r\n")
    c.send("s", b"a1 OK logged in\r\n")
    c.send("c", b"a2 SELECT {5+}\r\nINBOX\r\n")
    c.send("s", b"* 3 EXISTS\r\na2 OK [READ-WRITE] SELECT completed\r\n")
    c.send("c", b"a3 EXAMINE {4}\r\n")
    c.send("s", b"+ go ahead\r\n")
    c.send("c", b"Junk\r\n")
    c.send("s", b"* 0 EXISTS\r\na3 OK [READ-ONLY] EXAMINE completed\r\n")
    c.send("c", b'a4 SELECT "Sent \\"Items\\""\r\n')
    c.send("s", b"* 7 EXISTS\r\na4 OK [READ-WRITE] SELECT completed\r\n")
    c.send("c", b"a5 SELECT Entw&APw-rfe\r\n")
    c.send("s", b"* 1 EXISTS\r\na5 OK [READ-WRITE] SELECT completed\r\n")
    c.send("c", b"a6 SELECT {7+}\r\nMissing\r\n")
    c.send("s", b"a6 NO [NONEXISTENT] no such mailbox\r\n")
    c.send("c", b"a7 LOGOUT\r\n")
    c.send("s", b"* BYE bye\r\na7 OK done\r\n")
    c.fin()
    p.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "facts.pcap")
        write_capture(cap)

        objs = [json.loads(line) for line in run("--summary", "-F", "json", cap).splitlines()
                if line]
        sess = [o for o in objs if o.get("type") == "session_summary"]
        check(len(sess) == 1, f"{len(sess)} session summaries, want 1")
        if sess:
            check(sess[0].get("mailboxes") == WANT,
                  f"JSON mailboxes {sess[0].get('mailboxes')!r}, want {WANT!r}")
            check(sess[0].get("selects") == len(WANT),
                  f"JSON selects {sess[0].get('selects')!r}, want {len(WANT)}")

        text = run("--summary", cap)
        line = next((ln for ln in text.splitlines() if ln.strip().startswith("mailboxes")), "")
        want = "mailboxes    " + ", ".join(WANT) + f"  ({len(WANT)} selected)"
        check(line.strip() == want, f"text {line.strip()!r}, want {want!r}")
        check("{5+}" not in text and "{4}" not in text and "&APw-" not in text,
              f"literal markers or modified UTF-7 in --summary: {text!r}")

        # The timeline keeps the command as sent.
        tl = run(cap)
        check("C a5 SELECT Entw&APw-rfe" in tl, "the timeline no longer shows the wire name")
        check("C a2 SELECT {5 bytes}" in tl, "the timeline no longer shows the literal marker")

    if audit.failures:
        print(f"test_facts: {audit.failures} failures")
        sys.exit(1)
    print("test_facts: --summary lists the mailboxes the session decoded")


if __name__ == "__main__":
    main()
