"""Client-side ground truth of mailbox activity (issue 17, `--activity`).

An Activity object rides along a Conn (imapclient.py): it sees every command
the client sends and every response the client reads, in order, keeps what
the client knows (the selected mailbox, its UIDVALIDITY, the sequence number
-> message map kept current across EXISTS, EXPUNGE and VANISHED, each
message's UID, size, flags and identity headers) and, when a command's tagged
completion arrives, appends one record per action to the session's
"activity" list.  The record says only what crossed the wire up to that
completion, in this session: what the client could not know is null.  The
rules are written out in captures/README.md ("Activity truth").

Standard library only.
"""
import base64
import re

# ---------------------------------------------------------------- parsing
_ATOM_END = b" ()\r\n"


class Parser:
    """Reads IMAP data (atoms, quoted strings, literals, lists) from one
    logical response line with its literals inline, as Conn returns it."""

    def __init__(self, data, pos=0):
        self.d = data
        self.i = pos

    def _sp(self):
        while self.i < len(self.d) and self.d[self.i:self.i + 1] == b" ":
            self.i += 1

    def at_end(self):
        self._sp()
        return self.i >= len(self.d) or self.d[self.i:self.i + 2] == b"\r\n"

    def value(self):
        self._sp()
        c = self.d[self.i:self.i + 1]
        if c == b"(":
            self.i += 1
            out = []
            while True:
                self._sp()
                if self.d[self.i:self.i + 1] == b")":
                    self.i += 1
                    return out
                out.append(self.value())
        if c == b'"':
            self.i += 1
            out = bytearray()
            while self.d[self.i:self.i + 1] != b'"':
                if self.d[self.i:self.i + 1] == b"\\":
                    self.i += 1
                out += self.d[self.i:self.i + 1]
                self.i += 1
            self.i += 1
            return bytes(out)
        if c == b"~" and self.d[self.i + 1:self.i + 2] == b"{":   # literal8
            self.i += 1
            c = b"{"
        if c == b"{":
            j = self.d.index(b"}", self.i)
            n = int(self.d[self.i + 1:j].rstrip(b"+"))
            start = j + 3                                  # "}\r\n"
            self.i = start + n
            return bytes(self.d[start:start + n])
        return self.atom()

    def atom(self):
        """An atom; a section spec in brackets may hold spaces and parens."""
        j = self.i
        depth = 0
        while j < len(self.d):
            ch = self.d[j:j + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b"(", b")", b"\r", b"\n"):
                break
            j += 1
        a = self.d[self.i:j]
        if not a:
            raise ValueError("no IMAP value at %r" % self.d[self.i:self.i + 20])
        self.i = j
        return None if a.upper() == b"NIL" else Atom(a)


class Atom(bytes):
    """An atom (not a string): NIL is None, everything else an Atom."""


def text(v):
    return None if v is None else bytes(v).decode("utf-8", "replace")


def fetch_items(resp):
    """'* n FETCH (...)' -> (n, [(NAME upper, value)...])"""
    m = re.match(rb"\* (\d+) FETCH ", resp, re.I)
    p = Parser(resp, m.end())
    lst = p.value()
    items = []
    for k in range(0, len(lst) - 1, 2):
        items.append((text(lst[k]).upper(), lst[k + 1]))
    return int(m.group(1)), items


def fetch_name(name):
    """A FETCH item as asked or as answered, in one form: upper case, .PEEK
    and the partial range dropped (BODY.PEEK[]<0.100> and BODY[]<0> match)."""
    name = name.upper().replace(".PEEK[", "[")
    return re.sub(r"<[\d.]*>$", "", name)


def seq_set(spec, star):
    """'1:3,7,9:*' -> [1, 2, 3, 7, 9..star] (ranges in either order)."""
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition(":")
        lo = star if lo == "*" else int(lo)
        hi = lo if not hi else (star if hi == "*" else int(hi))
        if lo > hi:
            lo, hi = hi, lo
        out.extend(range(lo, hi + 1))
    return out


def flag_list(args):
    """The flags of STORE / APPEND arguments: '(\\Seen \\Flagged)' or '\\Seen'."""
    s = " ".join(args).strip()
    if s.startswith("("):
        s = s[1:-1]
    return [f for f in s.split() if f]


def unquote(s):
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return re.sub(r'\\(.)', r'\1', s[1:-1])
    return s


# ---------------------------------------------------------------- identity
ENCODED_WORD = re.compile(r"=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=")


def _decode_word(m):
    charset, enc, data = m.group(1), m.group(2).upper(), m.group(3)
    try:
        if enc == "B":
            raw = base64.b64decode(data + "=" * (-len(data) % 4))
        else:
            raw = re.sub(r"=([0-9A-Fa-f]{2})", lambda h: chr(int(h.group(1), 16)),
                         data.replace("_", " ")).encode("latin-1")
        return raw.decode(charset, "replace")
    except (LookupError, ValueError):
        return m.group(0)                  # unknown charset, bad data: as sent


def decode_words(s):
    """RFC 2047: encoded words decoded, white space between two adjacent
    encoded words dropped, everything else as is."""
    if s is None:
        return None
    out = []
    pos = 0
    after_word = False
    for m in ENCODED_WORD.finditer(s):
        between = s[pos:m.start()]
        if not (after_word and between.strip(" \t") == ""):
            out.append(between)
        out.append(_decode_word(m))
        pos = m.end()
        after_word = True
    out.append(s[pos:])
    return "".join(out)


def header_fields(block):
    """Message-ID, Subject, From, Date of a header block (bytes): unfolded
    (CRLF before white space removed), 8-bit read as UTF-8, RFC 2047 decoded."""
    end = block.find(b"\r\n\r\n")
    head = block if end < 0 else block[:end + 2]
    head = re.sub(rb"\r\n(?=[ \t])", b"", head)
    out = {}
    for line in head.split(b"\r\n"):
        name, sep, val = line.partition(b":")
        if not sep:
            continue
        key = name.strip().lower().decode("ascii", "replace")
        field = {"message-id": "message_id", "subject": "subject",
                 "from": "from", "date": "date"}.get(key)
        if field and field not in out:
            out[field] = decode_words(val.strip().decode("utf-8", "replace"))
    return out


def envelope_fields(env):
    """ENVELOPE -> the same four fields (From: first address, 'name <m@h>')."""
    out = {}
    if not isinstance(env, list) or len(env) < 10:
        return out
    if env[0] is not None:
        out["date"] = text(env[0])
    if env[1] is not None:
        out["subject"] = decode_words(text(env[1]))
    if isinstance(env[2], list) and env[2] and isinstance(env[2][0], list):
        name, _, mbox, host = (env[2][0] + [None] * 4)[:4]
        addr = "%s@%s" % (text(mbox), text(host))
        out["from"] = ("%s <%s>" % (decode_words(text(name)), addr)) if name else addr
    if env[9] is not None:
        out["message_id"] = text(env[9])
    return out


# ---------------------------------------------------------------- messages
IDENTITY = ("message_id", "subject", "from", "date")


class Msg:
    def __init__(self):
        self.uid = None
        self.size = None
        self.flags = None
        self.ident = {}

    def learn(self, fields):
        for k, v in fields.items():
            self.ident.setdefault(k, v)


# FETCH data items: what the server sent is what was read.
HEADER_SECTIONS = re.compile(r"^(?:[\d.]*)(?:HEADER|HEADER\.FIELDS(?:\.NOT)? .*|MIME)$")


def classify(name):
    """'content', 'headers' or None for one FETCH response item name."""
    if name in ("RFC822", "RFC822.TEXT"):
        return "content"
    if name in ("RFC822.HEADER", "ENVELOPE"):
        return "headers"
    m = re.match(r"^(BODY|BINARY)\[(.*)\](<\d+>)?$", name, re.S)
    if not m:
        return None
    if m.group(1) == "BODY" and HEADER_SECTIONS.match(m.group(2)):
        return "headers"
    return "content"


def whole_message(name):
    """Items whose value is the complete message (size and headers known)."""
    return name in ("RFC822", "BODY[]")


def header_block(name):
    return name in ("RFC822.HEADER", "BODY[HEADER]") or name.startswith("BODY[HEADER.FIELDS ")


# ---------------------------------------------------------------- tracker
class Cmd:
    def __init__(self, tag, name, args):
        self.tag = tag
        self.name = name
        self.args = args                   # list of str (literals: Literal)
        self.fetches = []                  # (seq, Msg, [items])
        self.expunged = []                 # (seq, Msg)
        self.search = None
        self.codes = []                    # untagged OK [..] codes
        self.exists = None
        self.uidvalidity = None
        self.highestmodseq = None
        self.started = False
        self.targets = []

    def requested(self):
        """The FETCH items this FETCH / UID FETCH asked for (fetch_name form)."""
        spec = " ".join(a for a in self.args[1:] if isinstance(a, str))
        p = Parser(spec.encode())
        v = p.value()
        v = v if isinstance(v, list) else [v]
        return {fetch_name(text(x)) for x in v if x is not None}


class Activity:
    def __init__(self, session):
        self.out = session.setdefault("activity", [])
        self.user = None
        self.mailbox = None                # selected mailbox (None: not selected)
        self.readonly = False
        self.uidvalidity = None
        self.msgs = []                     # seq - 1 -> Msg
        self.known = {}                    # (mailbox, uidvalidity, uid) -> Msg
        self.pending = []                  # commands in flight, oldest first
        self.highestmodseq = None

    # ---- hooks called by Conn --------------------------------------------
    def sent(self, tag, name, args):
        self.pending.append(Cmd(tag, name, args))

    def untagged(self, resp):
        cur = self.pending[0] if self.pending else None
        if cur is not None:
            self._start(cur)
        m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH)\b", resp, re.I)
        if m:
            n, what = int(m.group(1)), m.group(2).upper()
            if what == b"EXISTS":
                while len(self.msgs) < n:
                    self.msgs.append(Msg())
                if cur:
                    cur.exists = n
            elif what == b"EXPUNGE":
                msg = self.msgs.pop(n - 1)
                if cur:
                    cur.expunged.append((n, msg))
            else:
                self._fetch(resp)
            return
        m = re.match(rb"\* VANISHED (\(EARLIER\) )?([\d:,]+)", resp, re.I)
        if m:
            if m.group(1):                 # removed before this session: not an action
                return
            for uid in seq_set(m.group(2).decode(), 0):
                for i, msg in enumerate(self.msgs):
                    if msg.uid == uid:
                        self.msgs.pop(i)
                        if cur:
                            cur.expunged.append((i + 1, msg))
                        break
            return
        m = re.match(rb"\* (?:SEARCH|SORT)\b(.*)", resp, re.I)
        if m and cur:
            cur.search = [int(x) for x in m.group(1).split() if x.isdigit()]
            return
        m = re.match(rb"\* OK \[([^\]]*)\]", resp, re.I)
        if m and cur:
            code = m.group(1).decode()
            cur.codes.append(code)
            w = code.split()
            if w[0].upper() == "UIDVALIDITY":
                cur.uidvalidity = int(w[1])
                if cur.name in ("SELECT", "EXAMINE"):
                    self.uidvalidity = cur.uidvalidity
            elif w[0].upper() == "HIGHESTMODSEQ":
                cur.highestmodseq = int(w[1])

    def done(self, tag, status, line):
        cmd = None
        for i, c in enumerate(self.pending):
            if c.tag == tag:
                cmd = self.pending.pop(i)
                break
        if cmd is None:
            return
        self._start(cmd)
        code = re.match(r"^\S+ \S+ \[([^\]]*)\]", line)
        if code:
            cmd.codes.append(code.group(1))
        fn = getattr(self, "_done_" + cmd.name.replace(" ", "_").lower(), None)
        if fn:
            fn(cmd, status)

    # ---- state -------------------------------------------------------------
    MSGSET = ("STORE", "UID STORE", "COPY", "UID COPY", "MOVE", "UID MOVE")

    def _start(self, cmd):
        """The server is now answering cmd (the oldest in flight): resolve its
        message set and, for SELECT/EXAMINE, leave the old mailbox."""
        if cmd.started:
            return
        cmd.started = True
        if cmd.name in self.MSGSET:
            cmd.targets = self._targets(cmd, self._arg(cmd, 0))
        elif cmd.name in ("SELECT", "EXAMINE"):
            self._leave()
            self.mailbox = self._arg(cmd, 0)

    def _owner(self, items):
        """The command an untagged FETCH answers.  Dovecot runs some pipelined
        commands at once (a UID FETCH's data can come before the completion
        of the UID STORE sent before it), so this goes by content: a FETCH
        command that asked for one of the items, else a STORE (FLAGS), else
        the oldest command in flight (SELECT's QRESYNC data, unsolicited)."""
        names = {fetch_name(n) for n, _ in items}
        data = names - {"UID", "FLAGS", "MODSEQ"}
        for c in self.pending:
            if c.name in ("FETCH", "UID FETCH") and data & c.requested():
                return c
        for c in self.pending:
            if c.name in ("STORE", "UID STORE") and "FLAGS" in names:
                return c
        for c in self.pending:
            if c.name in ("FETCH", "UID FETCH") and names & c.requested():
                return c
        return self.pending[0] if self.pending else None

    def _fetch(self, resp):
        seq, items = fetch_items(resp)
        cur = self._owner(items)
        if cur is not None:
            self._start(cur)
        while len(self.msgs) < seq:
            self.msgs.append(Msg())
        msg = self.msgs[seq - 1]
        for name, val in items:
            if name == "UID":
                msg = self._bind_uid(seq, int(val))
        for name, val in items:
            if name == "RFC822.SIZE":
                msg.size = int(val)
            elif name == "FLAGS":
                msg.flags = [text(f) for f in val]
            elif name == "ENVELOPE":
                msg.learn(envelope_fields(val))
            elif val is not None and whole_message(name):
                if msg.size is None:
                    msg.size = len(val)
                msg.learn(header_fields(val))
            elif val is not None and header_block(name):
                msg.learn(header_fields(val))
        if cur is not None:
            cur.fetches.append((seq, msg, items))

    def _bind_uid(self, seq, uid):
        """A UID seen for seq: the message may be known from before (an
        earlier SELECT of the same mailbox and UIDVALIDITY)."""
        msg = self.msgs[seq - 1]
        key = (self.mailbox, self.uidvalidity, uid)
        old = self.known.get(key)
        if old is not None and old is not msg:
            old.learn(msg.ident)
            for attr in ("size", "flags"):
                if getattr(msg, attr) is not None:
                    setattr(old, attr, getattr(msg, attr))
            self.msgs[seq - 1] = old
            msg = old
        msg.uid = uid
        self.known[key] = msg
        return msg

    def _by_uid(self, uid):
        for i, m in enumerate(self.msgs):
            if m.uid == uid:
                return i + 1, m
        return None, None

    def _targets(self, cmd, spec):
        """(seq, Msg) for a command's message set, as the client knows it."""
        if cmd.name.startswith("UID "):
            known = [m.uid for m in self.msgs if m.uid is not None]
            out = []
            for uid in seq_set(spec, max(known) if known else 0):
                seq, m = self._by_uid(uid)
                if m is not None:
                    out.append((seq, m))
            return out
        return [(s, self.msgs[s - 1]) for s in seq_set(spec, len(self.msgs))
                if 0 < s <= len(self.msgs)]

    # ---- records -----------------------------------------------------------
    def _rec(self, cmd, action, status, **kw):
        r = {"action": action, "user": self.user, "tag": cmd.tag, "command": cmd.name,
             "mailbox": self.mailbox}
        r.update(kw)
        r["result"] = status
        self.out.append(r)
        return r

    def _msg_rec(self, cmd, action, status, seq, msg, **kw):
        fields = {"uidvalidity": self.uidvalidity, "uid": msg.uid, "seq": seq,
                  "size": msg.size}
        for k in IDENTITY:
            fields[k] = msg.ident.get(k)
        fields.update(kw)
        return self._rec(cmd, action, status, **fields)

    def _arg(self, cmd, i):
        a = cmd.args[i]
        return unquote(a if isinstance(a, str) else a.data.decode("utf-8", "replace"))

    # LOGIN/AUTHENTICATE: the user the rest is charged to
    def login_ok(self, user):
        self.user = user

    def _select(self, cmd, status, action):
        mbox = self._arg(cmd, 0)
        if status == "OK":
            self.readonly = action == "examine" or any(
                c.upper().startswith("READ-ONLY") for c in cmd.codes)
            if cmd.highestmodseq is not None:
                self.highestmodseq = cmd.highestmodseq
        else:
            self._leave()
        r = self._rec(cmd, action, status, exists=cmd.exists if status == "OK" else None,
                      uidvalidity=self.uidvalidity)
        r["mailbox"] = mbox

    def _done_select(self, cmd, status):
        self._select(cmd, status, "select")

    def _done_examine(self, cmd, status):
        self._select(cmd, status, "examine")

    def _leave(self):
        self.mailbox = None
        self.uidvalidity = None
        self.msgs = []

    def _done_close(self, cmd, status):
        if status == "OK" and self.mailbox and not self.readonly:
            # CLOSE removes the \Deleted messages silently: the session knew
            # which ones from the flags it saw
            for seq, msg in enumerate(self.msgs, 1):
                if msg.flags and "\\Deleted" in msg.flags:
                    self._msg_rec(cmd, "expunge", status, seq, msg)
        self._leave()

    def _done_unselect(self, cmd, status):
        self._leave()

    def _reads(self, cmd, status):
        for seq, msg, items in cmd.fetches:
            kinds = [(n, classify(n)) for n, _ in items]
            sel = [n for n, k in kinds if k]
            if not sel:
                continue
            action = "read" if any(k == "content" for _, k in kinds) else "read_headers"
            nbytes = sum(len(v) for n, v in items if classify(n) and isinstance(v, bytes))
            self._msg_rec(cmd, action, status, seq, msg, items=sel,
                          partial=any("<" in n for n in sel if classify(n) == "content"),
                          bytes=nbytes)

    _done_fetch = _reads
    _done_uid_fetch = _reads

    def _store(self, cmd, status):
        op = self._arg(cmd, 1).upper()
        flags = flag_list([self._arg(cmd, i) for i in range(2, len(cmd.args))])
        key = {"+": "flags_added", "-": "flags_removed"}.get(op[0], "flags_set")
        confirmed = {id(m): m.flags for _, m, items in cmd.fetches
                     if any(n == "FLAGS" for n, _ in items)}
        for seq, msg in cmd.targets:
            self._msg_rec(cmd, "flags", status, seq, msg, **{key: flags},
                          flags=confirmed.get(id(msg)))

    _done_store = _store
    _done_uid_store = _store

    def _copyuid(self, cmd):
        for c in cmd.codes:
            w = c.split()
            if w and w[0].upper() == "COPYUID" and len(w) == 4:
                src = seq_set(w[2], 0)
                dst = seq_set(w[3], 0)
                return int(w[1]), dict(zip(src, dst))
        return None, {}

    def _copy(self, cmd, status, action):
        to = self._arg(cmd, 1)
        to_uidv, mapping = self._copyuid(cmd)
        # MOVE's EXPUNGEs have already renumbered the map: resolve the set
        # against the map as it was when the command was sent
        for seq, msg in cmd.targets:
            self._msg_rec(cmd, action, status, seq, msg, to_mailbox=to,
                          to_uidvalidity=to_uidv, to_uid=mapping.get(msg.uid))
        for seq, msg in cmd.expunged:
            self._msg_rec(cmd, "expunge", status, seq, msg)

    def _done_copy(self, cmd, status):
        self._copy(cmd, status, "copy")

    _done_uid_copy = _done_copy

    def _done_move(self, cmd, status):
        self._copy(cmd, status, "move")

    _done_uid_move = _done_move

    def _expunge(self, cmd, status):
        for seq, msg in cmd.expunged:
            self._msg_rec(cmd, "expunge", status, seq, msg)

    _done_expunge = _expunge
    _done_uid_expunge = _expunge

    def _search(self, cmd, status):
        crit = " ".join(self._arg_raw(cmd, i) for i in range(len(cmd.args)))
        res = cmd.search if cmd.search is not None else ([] if status == "OK" else None)
        self._rec(cmd, "search", status, criteria=crit,
                  count=None if res is None else len(res), results=res)

    def _arg_raw(self, cmd, i):
        a = cmd.args[i]
        return a if isinstance(a, str) else a.data.decode("utf-8", "replace")

    _done_search = _search
    _done_uid_search = _search

    def _mailbox_op(action):
        def fn(self, cmd, status):
            r = self._rec(cmd, action, status)
            r["mailbox"] = self._arg(cmd, 0)
            if action == "mailbox_rename":
                r["to_mailbox"] = self._arg(cmd, 1)
            # keep "result" last, as in every record
            r["result"] = r.pop("result")
        return fn

    _done_create = _mailbox_op("mailbox_create")
    _done_delete = _mailbox_op("mailbox_delete")
    _done_rename = _mailbox_op("mailbox_rename")
    _done_subscribe = _mailbox_op("subscribe")
    _done_unsubscribe = _mailbox_op("unsubscribe")

    def _done_append(self, cmd, status):
        mbox = self._arg(cmd, 0)
        flags, idate, lit = None, None, None
        for a in cmd.args[1:]:
            if not isinstance(a, str):
                lit = a.data
            elif a.startswith("("):
                flags = flag_list([a])
            elif a.startswith('"'):
                idate = unquote(a)
        uidv, uid = None, None
        for c in cmd.codes:
            w = c.split()
            if w and w[0].upper() == "APPENDUID" and len(w) == 3:
                uidv, uid = int(w[1]), int(w[2])
        r = self._rec(cmd, "append", status, uidvalidity=uidv, uid=uid, seq=None,
                      size=len(lit) if lit is not None else None, flags=flags,
                      internal_date=idate, **{k: None for k in IDENTITY})
        r["mailbox"] = mbox
        r.update(header_fields(lit or b""))
        r["result"] = r.pop("result")
