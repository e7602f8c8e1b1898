#!/usr/bin/env python3
"""--check end to end.

1. The catalogue (`--help-checks`) and the table of docs/checks.md are the
   same rows, and the man page lists every rule.
2. Every capture of captures/ and of $PUBLIC (a FILE.keylog beside one is
   passed with -k) gives exactly the findings listed in CONFIRMED below:
   each was read by hand and breaks the RFC sentence quoted with it.  Any
   other finding is a false positive.  Over all of them, fewer than one
   finding per 20 commands.
3. --check changes no other line: the timeline without the finding lines
   and the counts is the timeline without --check; findings follow the
   event they are about (same ts and frame); the JSON validates against
   docs/events.schema.json; the exit status is the same.
4. --check with --logins, --summary and --session."""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from public import public_dir, skip  # noqa: E402

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO") or os.path.normpath(os.path.join(HERE, "..", ".."))
PUBLIC = public_dir()

# (capture, session, rule, side): each one read by hand.
CONFIRMED = [
    # The scripted client logs in twice.  RFC 9051 section 6.2.3: LOGIN is
    # valid in the not authenticated state only ("Valid in: Not
    # Authenticated state" in the command's header).
    ("captures/login-failures.pcap", 1, "command-wrong-state", "client"),
    # FETCH right after CLOSE.  RFC 9051 section 3.2: "In the
    # authenticated state, the client is authenticated and MUST select a
    # mailbox to access before commands that affect messages are permitted."
    ("captures/commands.pcap", 1, "command-wrong-state", "client"),
    # MULTIAPPEND with no space between a message's literal and the next
    # flag list: "{198}\r\n<198 octets>(\Draft) {40}".  RFC 3502 section
    # 6: append-message = append-opts SP append-data, append-opts =
    # [SP flag-list] ...; the SP is missing, so what follows the literal is
    # no SP, ")" or CRLF (RFC 9051 section 4.3 literal syntax).
    ("captures/append.pcap", 1, "literal-size-mismatch", "client"),
    # A synthetic capture: SELECT with no LOGIN at all.  RFC 9051 section
    # 3.1: "In the not authenticated state, the client MUST supply
    # authentication credentials before most commands will be permitted."
    ("public/arkime-arkime_synthetic.pcap", 1, "command-wrong-state", "client"),
    ("public/arkime-arkime_synthetic.pcap", 2, "command-wrong-state", "client"),
    # openssl s_client after STARTTLS sends "a001 CAPABILITY\n".  RFC 9051
    # section 2.2: "All interactions transmitted by client and server are
    # in the form of lines, that is, strings that end with a CRLF."
    ("public/lekensteyn-imap-ssl.pcapng", 1, "bare-newline", "client"),
    ("public/lekensteyn-imap-ssl.pcapng", 1, "bare-newline", "client"),
    # The same scripted client against Cyrus and GNU imap4d: FETCH after
    # CLOSE, the MULTIAPPEND without its SP, LOGIN twice (as above).
    ("captures/cyrus-commands.pcap", 1, "command-wrong-state", "client"),
    ("captures/cyrus-commands.pcap", 2, "literal-size-mismatch", "client"),
    ("captures/cyrus-commands.pcap", 3, "command-wrong-state", "client"),
    ("captures/imap4d-commands.pcap", 1, "command-wrong-state", "client"),
    ("captures/imap4d-commands.pcap", 2, "literal-size-mismatch", "client"),
    # Against Courier, whose capabilities name no ID, no SASL-IR and no
    # AUTH= before TLS: the client sends ID anyway (RFC 2971 section 3:
    # the ID capability tells that the server supports the command); its
    # UNSELECT is refused and the next SELECT fails, which leaves nothing
    # selected (RFC 9051 section 6.3.2: "if a mailbox is selected and a
    # SELECT command that fails is attempted, no mailbox is selected"), so
    # UID STORE, UID EXPUNGE, CLOSE and FETCH come in the authenticated
    # state; AUTHENTICATE PLAIN with an initial response without SASL-IR
    # (RFC 4959 section 3: only when the server advertises SASL-IR), and
    # three mechanisms no AUTH= names; LOGIN twice.
    ("captures/courier-commands.pcap", 1, "capability-not-advertised", "client"),
    ("captures/courier-commands.pcap", 1, "command-wrong-state", "client"),
    ("captures/courier-commands.pcap", 1, "command-wrong-state", "client"),
    ("captures/courier-commands.pcap", 1, "command-wrong-state", "client"),
    ("captures/courier-commands.pcap", 1, "command-wrong-state", "client"),
    ("captures/courier-commands.pcap", 3, "auth-mechanism-not-advertised", "client"),
    ("captures/courier-commands.pcap", 3, "auth-mechanism-not-advertised", "client"),
    ("captures/courier-commands.pcap", 3, "auth-mechanism-not-advertised", "client"),
    ("captures/courier-commands.pcap", 3, "capability-not-advertised", "client"),
    ("captures/courier-commands.pcap", 3, "command-wrong-state", "client"),
    # Mail::IMAPClient: EXAMINE Archive fails (Courier keeps folders under
    # INBOX.), which deselects INBOX (RFC 9051 section 6.3.2, as above);
    # the UID SEARCH after it has nothing selected.  Then AUTHENTICATE
    # CRAM-MD5 where no AUTH= is advertised.
    ("captures/courier-perl.pcap", 1, "command-wrong-state", "client"),
    ("captures/courier-perl.pcap", 2, "auth-mechanism-not-advertised", "client"),
    # GNU imap4d 3.15 ends the tagged OK of AUTHENTICATE with a bare LF.
    # RFC 9051 section 2.2: "All interactions transmitted by client and
    # server are in the form of lines, that is, strings that end with a
    # CRLF."
    ("captures/imap4d-auth.pcap", 5, "bare-newline", "server"),
    ("captures/imap4d-auth.pcap", 6, "bare-newline", "server"),
]

MAX_FINDINGS_PER_COMMAND = 1 / 20
fails = 0


def fail(msg):
    global fails
    fails += 1
    print("FAIL: " + msg)


def run(args, check=True):
    r = subprocess.run([IMAPSCOPE, "-q", *args], cwd=REPO, capture_output=True, timeout=300)
    if check and r.returncode != 0:
        fail("imapscope %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr[:300]))
    return r


def captures():
    """(name as in CONFIRMED, path, extra args)."""
    out = []
    for path in sorted(glob.glob(os.path.join(REPO, "captures", "*.pcap*"))):
        # misbehave-*: violations on purpose, each checked against its
        # truth by test_corpus_servers.py; not well-behaved software
        if not os.path.basename(path).startswith("misbehave-"):
            out.append(("captures/" + os.path.basename(path), path))
    if PUBLIC is None:
        skip("public captures in the false-positive corpus")
    else:
        for path in sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*"))):
            out.append(("public/" + os.path.basename(path), path))
    res = []
    for name, path in out:
        keylog = os.path.splitext(path)[0] + ".keylog"
        res.append((name, path, ["-k", keylog] if os.path.exists(keylog) else []))
    return res


# --- 1. the catalogue and its documents ---------------------------------------

def catalogue():
    r = run(["--help-checks"])
    rows = []
    for block in r.stdout.decode().split("\n\n")[1:]:
        lines = block.strip("\n").split("\n")
        m = re.match(r"^(\S+)  (\S+)  (\S+)  (.*)$", lines[0])
        assert m and lines[2].startswith("    e.g. "), block
        rows.append((m.group(1), m.group(2), m.group(3), m.group(4), lines[1].strip(),
                     lines[2].strip()[len("e.g. "):]))
    return rows


def doc_rows():
    rows = []
    for line in open(os.path.join(REPO, "docs", "checks.md"), encoding="utf-8"):
        if not line.startswith("| `"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append((cells[0].strip("`"), cells[1], cells[2], cells[3], cells[4],
                     cells[5].strip("`")))
    return rows


def test_catalogue():
    cat, doc = catalogue(), doc_rows()
    if len(cat) < 20:
        fail("--help-checks lists %d rules" % len(cat))
    if cat != doc:
        fail("docs/checks.md's table and --help-checks differ (paste the catalogue there)")
        for a, b in zip(cat, doc):
            if a != b:
                print("   code: %s\n   docs: %s" % (a, b))
        return
    man = open(os.path.join(REPO, "docs", "imapscope.1"), encoding="utf-8").read()
    for row in cat:
        if row[0].replace("-", "\\-") not in man:
            fail("docs/imapscope.1 does not list rule %s" % row[0])
    print("ok   catalogue: %d rules, docs/checks.md and the man page agree" % len(cat))


# --- 2. the corpus: no finding but the confirmed ones --------------------------

def findings_of(path, extra):
    r = run(["--check", "-F", "json", *extra, path])
    found, commands = [], 0
    for line in r.stdout.decode(errors="replace").splitlines():
        ev = json.loads(line)
        if ev["type"] == "finding":
            found.append((ev["session"], ev["rule"], ev["side"]))
        elif ev["type"] == "command":
            commands += 1
    return found, commands


def test_corpus():
    total_f = total_c = 0
    seen = set()
    for name, path, extra in captures():
        found, commands = findings_of(path, extra)
        want = sorted((s, rule, side) for cap, s, rule, side in CONFIRMED if cap == name)
        seen.add(name)
        total_f += len(found)
        total_c += commands
        if sorted(found) != want:
            fail("%s: findings %s, confirmed %s" % (name, sorted(found), want))
    for cap, *_ in CONFIRMED:
        if cap not in seen and not (cap.startswith("public/") and PUBLIC is None):
            fail("confirmed capture %s is missing" % cap)
    if total_c == 0 or total_f > total_c * MAX_FINDINGS_PER_COMMAND:
        fail("%d findings in %d commands" % (total_f, total_c))
    print("ok   corpus: %d findings in %d commands, all confirmed by hand" % (total_f, total_c))


# --- 3. nothing else changes ------------------------------------------------------

FINDING_TEXT = re.compile(r"^\S+ #\d+ !! (error|warning) [a-z-]+ \((client|server), RFC ")


def test_text_inline():
    path = os.path.join(REPO, "captures", "commands.pcap")
    plain = run([path]).stdout.decode().splitlines()
    checked = run(["--check", path]).stdout.decode().splitlines()
    counts = [i for i, l in enumerate(checked) if l.startswith("-- checks: ")]
    if len(counts) != 1:
        fail("--check text: no single counts line")
        return
    body = checked[:counts[0]]
    finding = [i for i, l in enumerate(body) if FINDING_TEXT.match(l)]
    if [l for i, l in enumerate(body) if i not in finding] != plain:
        fail("--check text: the other lines changed")
    for i in finding:
        before = body[i - 1]
        if before.split(" ")[:2] != body[i].split(" ")[:2] or " C " not in before:
            fail("--check text: finding not after its line: %r / %r" % (before, body[i]))
        if not body[i].endswith(before.split(" C ", 1)[1]):
            fail("--check text: finding does not name its line: %r" % body[i])
    if not finding or checked[counts[0] + 1] != "   #1: 1 finding (1 error) in 49 commands: command-wrong-state 1":
        fail("--check text: counts %r" % checked[counts[0]:])
    colour = run(["--check", "--color", "always", path]).stdout.decode()
    if "\x1b[1;31m!! error command-wrong-state" not in colour:
        fail("--check --color: the finding is not marked")
    print("ok   text: %d finding inline, other lines unchanged, counts at the end" % len(finding))


def test_json():
    for name in ("captures/append.pcap", "captures/login-failures.pcap"):
        path = os.path.join(REPO, name)
        plain = run(["-F", "json", path]).stdout.decode().splitlines()
        checked = run(["--check", "-F", "json", path]).stdout.decode().splitlines()
        events = [json.loads(l) for l in checked]
        others = [l for l, e in zip(checked, events) if e["type"] != "finding"]
        if others != plain:
            fail("%s: --check -F json changed other lines" % name)
        for i, e in enumerate(events):
            if e["type"] != "finding":
                continue
            prev = events[i - 1]
            if (prev["ts"], prev.get("frame"), prev["session"], prev.get("flow_id")) != \
                    (e["ts"], e.get("frame"), e["session"], e.get("flow_id")):
                fail("%s: finding does not carry its event's ts, frame and flow" % name)
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("\n".join(checked) + "\n")
        r = subprocess.run([sys.executable, os.path.join(HERE, "test_schema.py"), "--lines",
                            f.name], capture_output=True, text=True)
        os.unlink(f.name)
        if r.returncode != 0:
            fail("%s: --check JSON does not validate: %s" % (name, r.stdout[-500:]))
    print("ok   json: findings after their events, other lines unchanged, schema valid")


def test_exit_status():
    missing = os.path.join(REPO, "captures", "no-such.pcap")
    for args in ([], ["-F", "json"]):
        a = run(args + [missing], check=False).returncode
        b = run(["--check"] + args + [missing], check=False).returncode
        if a != b or a == 0:
            fail("exit status %d without --check, %d with" % (a, b))
    print("ok   exit status unchanged")


# --- 4. combined with reports and filters ---------------------------------------------

def test_combined():
    path = os.path.join(REPO, "captures", "login-failures.pcap")
    logins = run(["--logins", path]).stdout.decode().splitlines()
    both = run(["--check", "--logins", path]).stdout.decode().splitlines()
    # the login report whole, then the findings' own block
    head, tail = both[:len(logins)], both[len(logins):]
    finding = [l for l in tail if FINDING_TEXT.match(l)]
    extra = [l for l in tail if not FINDING_TEXT.match(l) and not l.startswith(("-- checks", "   #", "--- "))]
    if len(finding) != 1 or head != logins or extra:
        fail("--check --logins: %d findings, report %s, other lines %r" % (len(finding), head == logins, extra))
    summary = run(["--summary", "-F", "json", path]).stdout.decode().splitlines()
    both = run(["--check", "--summary", "-F", "json", path]).stdout.decode().splitlines()
    types = [json.loads(l).get("type") for l in both]
    if types.count("finding") != 1 or [l for l, t in zip(both, types) if t != "finding"] != summary:
        fail("--check --summary -F json: %s" % types)
    one = run(["--check", "-F", "json", "--session", "2",
               os.path.join(REPO, "captures", "commands.pcap"),
               os.path.join(REPO, "captures", "login-failures.pcap")]).stdout.decode()
    if [json.loads(l)["session"] for l in one.splitlines()
            if json.loads(l)["type"] == "finding"] != [2]:
        fail("--check --session 2: %r" % one[-300:])
    print("ok   combined: --logins, --summary, --session")


if __name__ == "__main__":
    test_catalogue()
    test_corpus()
    test_text_inline()
    test_json()
    test_exit_status()
    test_combined()
    sys.exit(1 if fails else 0)
