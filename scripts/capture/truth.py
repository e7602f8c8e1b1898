#!/usr/bin/env python3
"""Ground-truth assembly for the capture corpus.

  truth.py assemble --capture FILE --out TRUTH [--fragment F]... [--log KIND:FILE]...
                    [--keylog FILE] [--rsa-key FILE] [--description TEXT]
                    [--check-mode all|ghosts] [--server-port 143]
  truth.py readme CAPTURES_DIR      (re)write CAPTURES_DIR/README.md

Fragments come from scenarios.py (the scripted client and the imaplib hooks).
Logs come from stock clients' own debug output, parsed here:
  curl     curl --verbose (stderr): "> A001 LOGIN ..." / "< A001 OK ..."
  fetchmail fetchmail -v: "fetchmail: IMAP> A0001 ..." / "fetchmail: IMAP< ..."
  mbsync   mbsync -D (debug): ">>> 1 LOGIN ..." / "1 OK ..." lines
  sclient  a file of "C: line" (what was fed to openssl s_client) and
           "S: line" (what it printed)
Log-derived sessions do not know their client port: they are matched, in
order, with the capture's connections that no fragment claimed (the stock
clients are run one after another, so the order is the connection order).
"""
import argparse
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaptool  # noqa: E402

STATUS = ("OK", "NO", "BAD")


def new_session(source):
    return {"client": None, "server": None, "source": source, "tls": None,
            "compress": False, "commands": [], "logins": [], "marks": []}


def command_name(words):
    if not words:
        return ""
    w0 = words[0].upper()
    if w0 == "UID" and len(words) > 1:
        return "UID " + words[1].upper()
    return w0


class LineTruth:
    """Builds a session from a sequence of (dir, line) pairs as a debug log
    shows them; handles SASL exchanges (client lines inside AUTHENTICATE are
    not commands) and IDLE's DONE."""

    def __init__(self, source):
        self.s = new_session(source)
        self.pending = {}
        self.in_sasl = None
        self.in_idle = None
        self.layer = "plain"

    def client(self, line, plain_override=None):
        line = line.rstrip("\r\n")
        if self.in_sasl or self.in_idle:
            if self.in_idle and line.upper() == "DONE":
                self.in_idle = None
            if self.in_sasl and line.strip() == "*":
                self.pending[self.in_sasl]["cancelled"] = True
            return
        words = line.split(" ")
        if len(words) < 2:
            return
        tag, cmd = words[0], command_name(words[1:])
        rec = {"tag": tag, "command": cmd, "status": None, "layer": self.layer,
               "t_sent": None, "t_done": None}
        self.s["commands"].append(rec)
        self.pending[tag] = rec
        if cmd == "AUTHENTICATE":
            self.in_sasl = tag
            rec["mechanism"] = words[2].upper() if len(words) > 2 else None
        elif cmd == "IDLE":
            self.in_idle = tag
        elif cmd == "LOGIN":
            user = words[2].strip('"') if len(words) > 2 else None
            rec["user"] = None if user in ("<user>", "*") else user   # redacted by the client

    def server(self, line):
        line = line.rstrip("\r\n")
        words = line.split(" ")
        if len(words) >= 2 and words[0] in self.pending and words[1] in STATUS:
            rec = self.pending.pop(words[0])
            rec["status"] = words[1]
            if self.in_sasl == words[0]:
                self.in_sasl = None
            if self.in_idle == words[0]:
                self.in_idle = None
            if rec["command"] in ("LOGIN", "AUTHENTICATE"):
                self.s["logins"].append({
                    "user": rec.pop("user", None), "tag": rec["tag"], "layer": rec["layer"],
                    "mechanism": "LOGIN" if rec["command"] == "LOGIN" else rec.pop("mechanism"),
                    "result": "ok" if words[1] == "OK" else
                              "aborted" if rec.pop("cancelled", False) else "fail"})
            if rec["command"] == "STARTTLS" and words[1] == "OK":
                self.layer = "tls"
                self.s["tls"] = {"phase": "starttls"}
            if rec["command"] == "COMPRESS" and words[1] == "OK":
                self.layer = "tls+compress" if self.layer == "tls" else "compress"
                self.s["compress"] = True


def parse_curl(path):
    sessions, cur = [], None
    for raw in open(path, encoding="utf-8", errors="replace"):
        line = raw.rstrip("\n")
        if line.startswith("* Connected to") or line.startswith("*   Trying") and cur is None:
            if line.startswith("* Connected to"):
                cur = LineTruth("curl --verbose")
                sessions.append(cur)
                if "port 993" in line:
                    cur.layer = "tls"
                    cur.s["tls"] = {"phase": "implicit"}
            continue
        if cur is None:
            continue
        if line.startswith("> "):
            cur.client(line[2:])
        elif line.startswith("< "):
            cur.server(line[2:])
    for x in sessions:
        curl_logout(x.s)
    return [x.s for x in sessions]


def curl_logout(s):
    """curl sends LOGOUT when it closes an authenticated connection but does
    not print it with --verbose (lib/imap.c, imap_disconnect).  Add it with the
    next tag of curl's sequence; the status is "none" since the log never
    shows it."""
    cmds = s["commands"]
    if not cmds or not any(l["result"] == "ok" for l in s["logins"]):
        return
    m = re.match(r"^([A-Z])(\d+)$", cmds[-1]["tag"])
    if not m or cmds[-1]["command"] == "LOGOUT":
        return
    n = int(m.group(2)) + 1
    cmds.append({"tag": "%s%0*d" % (m.group(1), len(m.group(2)), n), "command": "LOGOUT",
                 "status": "none", "layer": cmds[-1]["layer"], "t_sent": None,
                 "t_done": None, "inferred": "curl logs no LOGOUT; it sends one on close"})


def parse_prefixed(path, source, cprefix, sprefix, newsession):
    sessions, cur = [], None
    for raw in open(path, encoding="utf-8", errors="replace"):
        line = raw.rstrip("\n")
        if newsession(line):
            cur = LineTruth(source)
            sessions.append(cur)
            continue
        if cur is None:
            continue
        # a client's debug log prints fetched bodies raw, so a body that
        # does not end in a newline runs into the next ">>>" line
        at = line.find(cprefix)
        if at >= 0:
            cur.client(line[at + len(cprefix):])
        elif line.startswith(sprefix):
            cur.server(line[len(sprefix):])
    return [x.s for x in sessions]


def parse_fetchmail(path):
    return parse_prefixed(path, "fetchmail -v", "fetchmail: IMAP> ", "fetchmail: IMAP< ",
                          lambda l: re.search(r"fetchmail: IMAP< \* OK", l) is not None
                          and "Dovecot" in l)


def parse_mbsync(path):
    return parse_prefixed(path, "mbsync -D", "F: >>> ", "F: ",
                          lambda l: l.startswith("F: * OK") and "ready" in l)


def parse_sclient(path):
    s = LineTruth("openssl s_client")
    for raw in open(path, encoding="utf-8", errors="replace"):
        line = raw.rstrip("\n")
        if line.startswith("TLS "):
            s.layer = "tls"
            s.s["tls"] = {"phase": line.split()[1]}
        elif line.startswith("C: "):
            s.client(line[3:])
        elif line.startswith("S: "):
            s.server(line[3:])
    return [s.s]


def parse_perl(path):
    """Perl Mail::IMAPClient with Debug => 1: "Sending: LINE" for what it
    wrote (a multi-line write continues on lines that start with two
    spaces), "Read: <TAB>LINE" then "  <TAB>LINE" for what it read.  A write
    that ends in a synchronising "{n}" is followed by a write of the literal
    data, which is no command."""
    sessions, cur, data_next, sending = [], None, False, None
    data_tag = [None]       # a completion instead of "+": no data follows

    def flush():
        nonlocal data_next, sending
        if sending is None:
            return
        text, sending = sending, None
        if data_next:
            # the client sends one literal per command: what the data ends
            # with (a message body may end in "{5}") announces nothing
            data_next = False
            return
        first = text.split("\n", 1)[0]
        cur.client(first)
        data_next = re.search(r"\{\d+\}$", text.rstrip()) is not None
        data_tag[0] = first.split(" ", 1)[0]

    for raw in open(path, encoding="utf-8", errors="replace"):
        line = raw.rstrip("\n")
        if line.startswith("Connecting with "):
            if cur is not None:
                flush()
            cur = LineTruth("perl Mail::IMAPClient")
            sessions.append(cur)
            data_next, sending = False, None
            if "SSL" in line:
                cur.layer = "tls"
                cur.s["tls"] = {"phase": "implicit"}
            continue
        if cur is None:
            continue
        if line.startswith("Sending: "):
            flush()
            sending = line[len("Sending: "):]
        elif sending is not None and line.startswith("  ") and not line.startswith("  \t"):
            sending += "\n" + line[2:]
        else:
            flush()
            resp = (line[len("Read: \t"):] if line.startswith("Read: \t") else
                    line[3:] if line.startswith("  \t") else None)
            if resp is not None:
                if data_next and resp.split(" ", 1)[0] == data_tag[0]:
                    data_next = False
                cur.server(resp)
    if cur is not None:
        flush()
    return [x.s for x in sessions]


PARSERS = {"curl": parse_curl, "fetchmail": parse_fetchmail, "mbsync": parse_mbsync,
           "sclient": parse_sclient, "perl": parse_perl}


def assemble(a):
    sessions = []
    for f in a.fragment or []:
        with open(f) as fh:
            sessions += json.load(fh)["sessions"]
    seen = {c["client"] for c in pcaptool.conns(pcaptool.read_pcap(a.capture))}
    missing = [s["client"] for s in sessions if s["client"] not in seen]
    if missing:
        raise SystemExit("%s: the capture lacks the SYN of %s" % (a.capture, ", ".join(missing)))
    logged = []
    for spec in a.log or []:
        kind, path = spec.split(":", 1)
        logged += PARSERS[kind](path)
    if logged:
        claimed = {s["client"] for s in sessions}
        free = [c for c in pcaptool.conns(pcaptool.read_pcap(a.capture))
                if c["client"] not in claimed]
        if len(free) != len(logged):
            raise SystemExit("%s: %d unclaimed connections but %d logged sessions"
                             % (a.capture, len(free), len(logged)))
        for s, c in zip(logged, free):
            s["client"], s["server"] = c["client"], c["server"]
        sessions += logged
    for s in sessions:
        for c in s["commands"]:
            if c["status"] is None:
                c["status"] = "none"        # no tagged response seen by the client
    base = os.path.dirname(os.path.abspath(a.out))
    rel = lambda p: os.path.relpath(os.path.abspath(p), base) if p else None
    truth = {
        "capture": rel(a.capture),
        "keylog": rel(a.keylog),
        "rsa_key": rel(a.rsa_key),
        "description": a.description,
        "encrypted": any(s.get("tls") for s in sessions),
        "compressed": any(s.get("compress") for s in sessions),
        "extra_ports": a.extra_port or [],
        "check": {"mode": a.check_mode},
        "sessions": sessions,
    }
    with open(a.out, "w") as f:
        json.dump(truth, f, indent=1, ensure_ascii=False)
        f.write("\n")


def readme(d):
    rows = []
    total = 0
    for t in sorted(glob.glob(os.path.join(d, "*.truth.json"))):
        with open(t) as f:
            tr = json.load(f)
        cap = os.path.join(d, tr["capture"])
        size = os.path.getsize(cap) if os.path.exists(cap) else 0
        ncmd = sum(len(s["commands"]) for s in tr["sessions"])
        nlog = sum(len(s["logins"]) for s in tr["sessions"])
        extra = [x for x in (tr.get("keylog"), tr.get("rsa_key")) if x]
        rows.append("| `%s` | %d | %d | %d | %d | %s | %s |" % (
            tr["capture"], size, len(tr["sessions"]), ncmd, nlog,
            ", ".join("`%s`" % x for x in extra) or "-",
            (tr.get("description") or "") + (" **Damaged:** " + tr["damage"] if tr.get("damage") else "")))
    files = [f for f in glob.glob(os.path.join(d, "**", "*"), recursive=True) if os.path.isfile(f)]
    total = sum(os.path.getsize(f) for f in files)
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write(README_HEAD)
        f.write("| capture | bytes | sessions | commands | logins | keys | what |\n")
        f.write("| --- | ---: | ---: | ---: | ---: | --- | --- |\n")
        f.write("\n".join(rows) + "\n")
        f.write("\nTotal size of `captures/`: %d bytes (%.2f MB).\n" % (total, total / 1e6))
        f.write(README_TAIL)


README_HEAD = """# captures/ — the end-to-end corpus

Real IMAP traffic between real servers from Debian 12 — Dovecot 2.3.19,
Cyrus IMAP 3.6.1 (`cyrus-*`), GNU Mailutils imap4d 3.15 (`imap4d-*`),
Courier IMAP 5.0.13 (`courier-*`) — and
real clients, made by `sudo scripts/make-captures.sh` (it rewrites this file
too).  Everything was sent on loopback, in a private network namespace (one
per server) whose `lo` has MTU 1500 and no segmentation offloads, except
`lo64k-*` (default namespace, segments up to 64 KB).  Users `alice`/`alice-pw`
and `bob`/`bob-pw` (imap4d: `alice@example.test`, its virtual domain); the
messages are deterministic and hostile (IMAP-looking lines and `{n}` at line
ends in bodies, 8-bit UTF-8, folded headers, an empty body, one ~200 KB body).
Cyrus, imap4d and Courier get them over IMAP (`scripts/capture/seed.py`)
before their captures start; Courier keeps folders under `INBOX.`, so the
scenarios' `Archive`/`Big` get NO there, and it lists no AUTH= before TLS
(`courier-auth` has nothing to try).

Clients: the scripted `imapclient.py` scenarios, python3 `imaplib`, curl,
fetchmail, mbsync, openssl s_client, Perl `Mail::IMAPClient` 3.43
(`*-perl`, its `Debug` log is the truth), and `misbehave.py` (`misbehave-*`:
a raw-socket client that breaks one rule per connection, see below).

What the other servers do that Dovecot does not, all kept as they happened:
Cyrus lists `LOGINDISABLED` in its post-login capabilities and answers a
STARTTLS twice (`OK`, then `NO Starttls negotiation failed` in plain text)
when bytes were pipelined behind it; imap4d drops the connection on an empty
APPEND (`imap4d-commands`), never answers AUTHENTICATE PLAIN/LOGIN with
virtual-domain users (the client gives up after 10 s: status `none`), refuses
every other SASL mechanism it lists, and reports new mail in IDLE only after
the client's DONE.  Courier, which does not advertise LITERAL+, reads the
data of a `{n+}` literal as commands and answers them (`misbehave-courier`);
the scripted client sends only synchronising literals to it elsewhere.
Courier answers a STARTTLS with pipelined bytes behind it with a TLS alert
record and then goes on in plain text; imapscope (3b7ee0a) stops decoding the
server's direction at that point, so `misbehave-courier` lists those three
completions under `"known_misses"`.

Files:

- `NAME.pcap` / `.pcapng` — the capture.
- `NAME.truth.json` — the ground truth, recorded on the client side.
- `NAME.keylog` — NSS key log (`SSLKEYLOGFILE` format) for the TLS sessions.
- `tls/server.key`, `tls/server.crt` — Dovecot's self-signed RSA key, for
  `--rsa-key` on the RSA key-exchange captures.  A test key, nothing else.

"""

README_TAIL = """
## Ground truth format

```
{
  "capture": "commands.pcap",          # relative to captures/
  "keylog": "x.keylog" | null,         # pass with -k
  "rsa_key": "tls/server.key" | null,  # pass with --rsa-key
  "extra_ports": ["10143"],            # pass each with -p
  "description": "...",
  "encrypted": bool, "compressed": bool,
  "check": {"mode": "all"}             # every command must be found
         | {"mode": "window", "from": ts|null, "to": ts|null, "margin_s": 0.005}
                                       # damaged: commands sent after `from`
                                       # and completed before `to` must be found
         | {"mode": "ghosts"},         # nothing required, only ghosts checked
  "damage": "..." ,                    # derived (damaged) files only
  "sessions": [{
     "client": "127.0.0.1:40312", "server": "127.0.0.1:143",
     "source": "imapclient.py" | "python3 imaplib" | "curl --verbose" | ...,
     "tls": null | {"phase": "starttls"|"implicit", ...}, "compress": bool,
     "commands": [{"tag", "command" (upper case, "UID FETCH" two words),
                   "status" ("OK"|"NO"|"BAD"|"none"),
                   "layer" ("plain"|"tls"|"compress"|"tls+compress"),
                   "t_sent", "t_done" (client clock, epoch s, or null)}],
     "logins": [{"user", "mechanism", "result" ("ok"|"fail"|"aborted": the
                 client cancelled its SASL exchange), "tag", "layer"}],
     "marks": [{"name", "t", "tag"?}],  # points the derivations cut at
     "activity": [{...}]                # activity-* captures only, see below
  }]
}
```

## Activity truth (`activity-*` captures)

For the mailbox activity report (`--activity`, issue 17) the scripted client
(`scripts/capture/activity.py`, riding along `imapclient.py`) follows every
command it sends and every response it reads, and at each tagged completion
appends one record per action to its session's `"activity"` list, in
completion order (pipelined commands complete in the order sent; within a
command, in the order of the server's responses).  A record holds only what
crossed the wire in this session up to that completion; what the client could
not know is `null`, never guessed.

```
{"action",          # see the table below
 "user",            # the user of the session's successful LOGIN/AUTHENTICATE
 "tag", "command",  # the command that did it ("UID FETCH" two words)
 "mailbox",         # the selected mailbox (message actions) or the command's
                    # mailbox argument (select, examine, append, mailbox_*,
                    # subscribe, unsubscribe); rename: the old name
 "result"}          # the tagged completion: "OK" | "NO" | "BAD"
# message actions (read, read_headers, flags, expunge, copy, move) add
 "uidvalidity", "uid", "seq", "size",
 "message_id", "subject", "from", "date"
```

| action | one record per | extra keys |
| --- | --- | --- |
| `read` | message in an untagged FETCH carrying message content: `RFC822`, `RFC822.TEXT`, `BODY[...]`/`BINARY[...]` other than header sections (`BODY[]`, `TEXT`, a part) | `items` (the FETCH item names as the server sent them), `partial` (a content item came back as `<origin>`), `bytes` (octets of the section/RFC822 values) |
| `read_headers` | message in an untagged FETCH with only header data: `ENVELOPE`, `RFC822.HEADER`, `BODY[HEADER]`, `BODY[HEADER.FIELDS (...)]`, `BODY[n.MIME]` | `items`, `partial` (false), `bytes` |
| `flags` | message of the STORE / UID STORE set (sent as a sequence set: resolved against the map when the server started on the command) | `flags_added` (`+FLAGS`), `flags_removed` (`-FLAGS`) or `flags_set` (`FLAGS`); `flags`: the flags of the untagged FETCH FLAGS that confirmed it, `null` for `.SILENT` |
| `expunge` | message removed: untagged `EXPUNGE` (EXPUNGE, UID EXPUNGE, MOVE), `VANISHED` (not `VANISHED (EARLIER)`, which reports removals made before), CLOSE (the messages the session had seen flagged `\\Deleted`; `seq` as before the CLOSE) | - (`seq`: the number the message had when it went) |
| `copy`, `move` | message of the set (also when refused: `result` "NO", `to_uid` null) | `to_mailbox`, `to_uidvalidity`, `to_uid` (from `COPYUID`, tagged for COPY, untagged for MOVE); a MOVE also gives the `expunge` records of its EXPUNGEs |
| `append` | APPEND | `uidvalidity`, `uid` (from `APPENDUID`), `seq` (null), `size` (literal octets), `flags`, `internal_date`, and the four identity fields from the literal's headers |
| `select`, `examine` | command | `exists`, `uidvalidity` |
| `search` | SEARCH / UID SEARCH | `criteria` (the arguments as sent), `count`, `results` (numbers or UIDs as the server listed them) |
| `mailbox_create`, `mailbox_delete`, `subscribe`, `unsubscribe` | command | - |
| `mailbox_rename` | command | `to_mailbox` (the new name) |

Only STORE makes `flags` records: the FLAGS a FETCH answer carries (the
`\\Seen` a non-PEEK fetch sets, a FETCH of FLAGS) are no action.  A FETCH of
only UID, FLAGS, RFC822.SIZE, INTERNALDATE, BODYSTRUCTURE or MODSEQ reads
nothing and makes no record.  With several commands in flight an untagged
FETCH belongs to the command that asked for its items (Dovecot answers a
pipelined UID FETCH before the UID STORE sent before it has completed).

Message identity:
- `seq` is the message's sequence number at the response that reported the
  action (FETCH, EXPUNGE), or from the client's sequence map when there was
  none (STORE .SILENT, COPY, VANISHED).  The map starts at SELECT's EXISTS and
  follows EXISTS, EXPUNGE and VANISHED.
- A UID command's set is resolved against the UIDs the session has seen;
  a UID it has not seen makes no record (the scenarios learn every UID first).
- `uid` comes from a UID the server sent for that message (any FETCH with
  UID, UID commands' answers) before or in the command; `uidvalidity` from the
  SELECT.  FETCH 2 before any UID crossed the wire has `uid: null`.
- `size` is RFC822.SIZE, or the length of a complete `BODY[]`/`RFC822` value.
- `message_id`, `subject`, `from`, `date` come from `ENVELOPE`, a header
  block (`BODY[HEADER]`, `BODY[HEADER.FIELDS ...]`, `RFC822.HEADER`) or a
  complete message (`BODY[]`, `RFC822`), never from a partial fetch; the first
  source seen wins.  Header values are unfolded (CRLF before white space
  removed, the white space kept), read as UTF-8 and RFC 2047 decoded (white
  space between two adjacent encoded words dropped); `from` from ENVELOPE is
  `name <mailbox@host>` (the name decoded) or `mailbox@host`; `message_id` keeps
  its angle brackets; `date` is the header text.
- Identity is kept per message across renumbering, and per (mailbox,
  UIDVALIDITY, UID) across a new SELECT of the same mailbox; it is not carried
  to the copies (`to_uid`).

## Misbehaving client (`misbehave-*` captures)

`scripts/capture/misbehave.py` opens one connection per case and breaks one
rule of RFC 9051 or an extension RFC on it, against a second Dovecot
(`disable_plaintext_auth = yes` and `imap_capability = IMAP4rev1 SASL-IR
LOGIN-REFERRALS ID ENABLE`: no LITERAL+, IDLE, MOVE, NAMESPACE, COMPRESS
advertised, though Dovecot runs them), Cyrus, imap4d and Courier.  The LOGINDISABLED
cases connect from 127.0.0.2 (loopback too): Dovecot counts a client on its
own address as secured.  Each session adds to the usual truth

```
"case": "tag-reused",                 # the case's name
"findings": [{"rule",                 # a --check rule id (docs/checks.md)
              "side",                 # "client" | "server": who broke it
              "tag",                  # the command it concerns
              "marker",               # the offending bytes, escaped
              "frame",                # 1-based capture frame carrying them
              "t", "layer"}],
"extra_responses": [{"tag", "status", "t"}],  # a second completion of a
                                      # tag already completed (Cyrus)
"known_misses": [{"tag", "status", "why"}]    # completions imapscope does
                                      # not see yet: test_corpus.py lists them
```

Every finding listed must be reported by `--check` on that session; a case
may break a second rule on the way (COMPRESS before authentication on Cyrus
is also unadvertised there), and then both are listed.  A third Dovecot
advertises `LITERAL-` alone (`imap_literal_minus = yes`) for
`literal-minus-too-large`.
`tests/e2e/test_corpus_servers.py` checks the ids, frames and coverage.

`tests/e2e/test_corpus.py` checks imapscope's JSON against every truth file;
`tests/e2e/test_activity_truth.py` checks the activity lists (vocabulary, each
record's command as imapscope reports it, the four transports of the main
scenario alike, the issue's cases present);
`scripts/compare-tshark.sh` lists where imapscope and tshark disagree.
"""


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="op", required=True)
    s = sub.add_parser("assemble")
    s.add_argument("--capture", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--fragment", action="append")
    s.add_argument("--log", action="append")
    s.add_argument("--keylog")
    s.add_argument("--rsa-key")
    s.add_argument("--extra-port", action="append")
    s.add_argument("--description", default="")
    s.add_argument("--check-mode", default="all", choices=("all", "ghosts"))
    r = sub.add_parser("readme")
    r.add_argument("dir")
    a = p.parse_args()
    if a.op == "assemble":
        assemble(a)
    else:
        readme(a.dir)


if __name__ == "__main__":
    main()
