#!/usr/bin/env python3
"""Write the deterministic, hostile test messages into a Maildir tree.

usage: mkmail.py MAILDIR_ROOT

Every run writes the same bytes.  INBOX holds small hostile messages; the
folder "Big" holds one ~200 KB message (kept apart so that most captures stay
small); "Archive" is empty.  The messages are built to trip a careless IMAP
analyzer: IMAP-looking lines in bodies, "{n}" at line ends, 8-bit UTF-8,
folded headers, an empty body, CRLF-only framing.
"""
import os
import sys

BASE_TIME = 1763700000  # fixed: file names and mtimes are the same every run


def msg(headers, body):
    head = "".join(h + "\r\n" for h in headers)
    return (head + "\r\n").encode("utf-8") + body


def hdr(n, subject, extra=()):
    return [
        "Return-Path: <sender@example.test>",
        "Message-ID: <corpus-%d@imapscope.test>" % n,
        "Date: Fri, 21 Nov 2025 10:%02d:00 +0000" % n,
        "From: Sender %d <sender@example.test>" % n,
        "To: Alice <alice@example.test>",
        "Subject: " + subject,
        "MIME-Version: 1.0",
        *extra,
    ]


def messages():
    out = []
    # 1. IMAP-looking lines inside the body.
    out.append(msg(hdr(1, "IMAP-looking lines", ["Content-Type: text/plain; charset=us-ascii"]),
                   b"Hello Alice,\r\n"
                   b"A003 OK done\r\n"
                   b"* BYE server going down\r\n"
                   b"* 3 EXISTS\r\n"
                   b"+ go ahead\r\n"
                   b"a1 LOGIN alice secret\r\n"
                   b"A004 NO [TRYCREATE] no such mailbox\r\n"
                   b")\r\n"
                   b"* 1 FETCH (BODY[] {12}\r\n"
                   b"DONE\r\n"
                   b"-- \r\nend\r\n"))
    # 2. Lines ending with {n}, like literal announcements.
    out.append(msg(hdr(2, "literal lookalikes {5}", ["Content-Type: text/plain"]),
                   b"this line ends with a brace count {10}\r\n"
                   b"0123456789\r\n"
                   b"and this one with a LITERAL+ marker {3+}\r\n"
                   b"abc\r\n"
                   b"A005 OK [READ-WRITE] fake completion {0}\r\n"
                   b"{99999999999}\r\n"))
    # 3. 8-bit UTF-8 body and encoded-word subject.
    out.append(msg(hdr(3, "=?UTF-8?B?w5xiZXJncsO2w59lIOKAlCDml6XmnKzoqp4=?=",
                       ["Content-Type: text/plain; charset=utf-8",
                        "Content-Transfer-Encoding: 8bit"]),
                   "Grüße aus Köln — 日本語のテキスト, ελληνικά, emoji 📬.\r\n"
                   "Ligne française : « où ça ? »\r\n".encode("utf-8") +
                   b"raw high bytes: \xc3\xa9\xe2\x82\xac\r\n"))
    # 4. Folded headers, including a folded Subject and a long folded To.
    out.append(msg(["Return-Path: <sender@example.test>",
                    "Message-ID: <corpus-4@imapscope.test>",
                    "Date: Fri, 21 Nov 2025 10:04:00 +0000",
                    "From: Sender 4 <sender@example.test>",
                    "To: Alice <alice@example.test>,\r\n\tBob <bob@example.test>,\r\n  "
                    "Carol <carol@example.test>",
                    "Subject: a folded\r\n subject line that continues\r\n\tover three lines",
                    "X-Weird: value with (parens) and \"quotes\" and\r\n \t* OK folded continuation",
                    "MIME-Version: 1.0"],
                   b"Folded headers above.\r\n"))
    # 5. Empty body.
    out.append(msg(hdr(5, "empty body"), b""))
    # 6. A multipart message with a small base64 part.
    out.append(msg(hdr(6, "multipart", ['Content-Type: multipart/mixed; boundary="b1"']),
                   b"--b1\r\nContent-Type: text/plain\r\n\r\nPart one.\r\n"
                   b"--b1\r\nContent-Type: application/octet-stream\r\n"
                   b"Content-Transfer-Encoding: base64\r\n\r\n"
                   b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n--b1--\r\n"))
    return out


def planted_message():
    """The message the activity scenarios APPEND (not written to any folder):
    an RFC 2047 From name and a folded Subject of two encoded words in two
    charsets, a folded To with a raw 8-bit (UTF-8) name, 8-bit body text and
    IMAP-looking lines.  Decoded, the Subject is "Rechnung über 4.200 € fällig
    heute" and the From "Jürgen Müller <juergen@example.test>"."""
    return msg(["Message-ID: <planted-1@attacker.example>",
                "Date: Sat, 22 Nov 2025 09:15:00 +0100",
                "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.test>",
                "To: Zoë Alice <alice@example.test>,\r\n\tBob\r\n <bob@example.test>",
                "Subject: =?UTF-8?B?UmVjaG51bmcgw7xiZXIgNC4yMDAg4oKsIA==?=\r\n"
                " =?ISO-8859-1?Q?f=E4llig?= heute",
                "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit"],
               "Bitte überweisen Sie den Betrag bis heute — 請求書 anbei.\r\n"
               "a7 OK [APPENDUID 1 99] fake\r\n"
               "* 3 EXPUNGE\r\n"
               "Grüße, Jürgen\r\n".encode("utf-8"))


def big_message():
    lines = []
    i = 0
    while sum(len(x) for x in lines) < 200 * 1024:
        if i % 97 == 0:
            lines.append(b"A%03d OK FETCH completed {%d}\r\n" % (i % 1000, i))
        elif i % 89 == 0:
            lines.append(b"* %d EXISTS\r\n" % i)
        else:
            lines.append(b"line %06d: the quick brown fox jumps over the lazy dog 0123456789\r\n" % i)
        i += 1
    return msg(hdr(7, "large body (~200 KB)", ["Content-Type: text/plain"]), b"".join(lines))


def write_folder(root, folder, msgs):
    d = root if folder == "INBOX" else os.path.join(root, "." + folder)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    for n, data in enumerate(msgs, 1):
        t = BASE_TIME + n
        name = "%d.M%dP1.imapscope,S=%d:2,%s" % (t, n, len(data), "S" if n % 2 else "")
        path = os.path.join(d, "cur", name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (t, t))


def main():
    root = sys.argv[1]
    write_folder(root, "INBOX", messages())
    write_folder(root, "Big", [big_message()])
    write_folder(root, "Archive", [])
    with open(os.path.join(root, "subscriptions"), "w") as f:
        f.write("INBOX\nBig\nArchive\n")


if __name__ == "__main__":
    main()
