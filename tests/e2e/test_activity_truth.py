#!/usr/bin/env python3
"""The activity ground truth (captures/activity*.truth.json, issue 17) is
sound and agrees with the captures:

  - every record uses the vocabulary of captures/README.md ("Activity truth"):
    a known action, the keys every record has, the keys of its action;
  - every record's tag is a command of its session whose name and status the
    record repeats, and imapscope reports that command and its completion on
    the capture (with the key log when there is one);
  - the four transports of the main scenario (plain, STARTTLS, COMPRESS,
    COMPRESS inside TLS) carry the same activity, but for UIDVALIDITY values;
  - the scenarios hold what issue 17 asks for (partial read, EXPUNGE
    renumbering, TRYCREATE, COPYUID, APPENDUID with a decoded Subject,
    VANISHED but not VANISHED (EARLIER), a UID-only client, pipelining,
    another session's EXISTS/EXPUNGE followed but not charged).

Environment: IMAPSCOPE, REPO.  Standard library only."""
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REPO") or os.path.abspath(os.path.join(HERE, "..", ".."))
IMAPSCOPE = os.environ.get("IMAPSCOPE") or os.path.join(REPO, "imapscope")
CAPS = os.path.join(REPO, "captures")

COMMON = ("action", "user", "tag", "command", "mailbox", "result")
MESSAGE = ("uidvalidity", "uid", "seq", "size", "message_id", "subject", "from", "date")
EXTRA = {
    "read": MESSAGE + ("items", "partial", "bytes"),
    "read_headers": MESSAGE + ("items", "partial", "bytes"),
    "flags": MESSAGE + ("flags",),
    "expunge": MESSAGE,
    "copy": MESSAGE + ("to_mailbox", "to_uidvalidity", "to_uid"),
    "move": MESSAGE + ("to_mailbox", "to_uidvalidity", "to_uid"),
    "append": MESSAGE + ("flags", "internal_date"),
    "select": ("exists", "uidvalidity"),
    "examine": ("exists", "uidvalidity"),
    "search": ("criteria", "count", "results"),
    "mailbox_create": (), "mailbox_delete": (), "subscribe": (), "unsubscribe": (),
    "mailbox_rename": ("to_mailbox",),
}
FLAG_OPS = ("flags_added", "flags_removed", "flags_set")
MAIN = ("activity", "activity-starttls", "activity-compress", "activity-compress-tls")

failures = 0


def fail(what, why):
    global failures
    failures += 1
    print("FAIL: %s: %s" % (what, why))


def load(name):
    with open(os.path.join(CAPS, name + ".truth.json")) as f:
        return json.load(f)


def observed(truth):
    """(client, tag) -> (command, status) as imapscope reports them."""
    args = [IMAPSCOPE, "-F", "json", "-q"]
    if truth.get("keylog"):
        args += ["-k", os.path.join(CAPS, truth["keylog"])]
    args.append(os.path.join(CAPS, truth["capture"]))
    r = subprocess.run(args, capture_output=True, timeout=120)
    clients, out = {}, {}
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        ev = json.loads(line)
        sid = ev.get("session")
        if ev.get("type") == "session_start":
            clients[sid] = ev.get("client")
        elif ev.get("type") == "command":
            out.setdefault((clients.get(sid), ev["tag"]), [None, None])[0] = ev["command"].upper()
        elif ev.get("type") == "response":
            out.setdefault((clients.get(sid), ev["tag"]), [None, None])[1] = ev["status"]
    return r.returncode, out


def check_record(what, r, cmds):
    act = r.get("action")
    if act not in EXTRA:
        fail(what, "unknown action %r" % act)
        return
    want = set(COMMON) | set(EXTRA[act])
    keys = set(r)
    if act == "flags":
        ops = keys & set(FLAG_OPS)
        if len(ops) != 1:
            fail(what, "flags record needs exactly one of %s" % ", ".join(FLAG_OPS))
        keys -= ops
    if keys != want:
        fail(what, "keys %s, want %s" % (sorted(keys), sorted(want)))
    c = cmds.get(r.get("tag"))
    if c is None:
        fail(what, "tag %s is no command of the session" % r.get("tag"))
    elif (c["command"], c["status"]) != (r["command"], r["result"]):
        fail(what, "record says %s %s, the command was %s %s"
             % (r["command"], r["result"], c["command"], c["status"]))


def check_file(path):
    name = os.path.basename(path)[:-len(".truth.json")]
    t = load(name)
    rc, obs = observed(t)
    if rc != 0:
        fail(name, "imapscope exit %d" % rc)
    n = 0
    for s in t["sessions"]:
        cmds = {c["tag"]: c for c in s["commands"]}
        acts = s.get("activity")
        if not acts:
            fail(name, "session %s has no activity" % s["client"])
            continue
        for i, r in enumerate(acts):
            n += 1
            what = "%s %s activity[%d]" % (name, s["client"], i)
            check_record(what, r, cmds)
            got = obs.get((s["client"], r.get("tag")))
            want = [r.get("command"), r.get("result")]
            if got != want:
                fail(what, "imapscope reports %s for %s, truth %s" % (got, r.get("tag"), want))
    return n


def main_scenario():
    def norm(name):
        out = []
        for r in load(name)["sessions"][0]["activity"]:
            r = {k: ("V" if k.endswith("uidvalidity") and v is not None else v)
                 for k, v in r.items() if k != "tag"}
            out.append(r)
        return out
    base = norm("activity")
    for n in MAIN[1:]:
        if norm(n) != base:
            fail(n, "activity differs from activity.truth.json's")
    layers = {"activity": "plain", "activity-starttls": "tls",
              "activity-compress": "compress", "activity-compress-tls": "tls+compress"}
    for n, layer in layers.items():
        s = load(n)["sessions"][0]
        # every command after LOGIN travelled in the scenario's layer
        after = s["commands"][[c["command"] for c in s["commands"]].index("LOGIN") + 2:]
        if not after or any(c["layer"] != layer for c in after):
            fail(n, "commands after LOGIN not all in layer %s" % layer)
    acts = [r for r in load("activity")["sessions"][0]["activity"]]
    by = lambda **kw: [r for r in acts if all(r.get(k) == v for k, v in kw.items())]
    if not by(action="read", partial=True):
        fail("activity", "no partial read")
    if not by(action="read", uid=None):
        fail("activity", "no read before any UID was known (uid null)")
    if not by(action="copy", result="NO", to_uid=None):
        fail("activity", "no refused COPY")
    if not [r for r in by(action="copy", result="OK") if r["to_uid"]]:
        fail("activity", "no COPYUID mapping")
    if not [r for r in by(action="move") if r["to_uid"]] or not by(action="expunge", command="MOVE"):
        fail("activity", "no MOVE with COPYUID and its expunge")
    if not by(action="expunge", command="CLOSE"):
        fail("activity", "no expunge by CLOSE")
    ren = [r for r in acts if r["action"] == "read_headers" and r["command"] == "FETCH"
           and r["seq"] is not None and r["uid"] is not None and r["seq"] != r["uid"]]
    if not ren:
        fail("activity", "no fetch by sequence number after renumbering")
    app = by(action="append", result="OK")
    if not app or app[0]["subject"] != "Rechnung über 4.200 € fällig heute" or not app[0]["uid"]:
        fail("activity", "APPEND lacks its APPENDUID or decoded Subject: %r" % app)
    for a in ("mailbox_create", "mailbox_rename", "mailbox_delete", "subscribe",
              "unsubscribe", "search", "select", "examine", "flags", "read_headers"):
        if not by(action=a):
            fail("activity", "no %s record" % a)
    cmds = load("activity")["sessions"][0]["commands"]
    if not any(b["t_sent"] < a["t_done"] for a, b in zip(cmds, cmds[1:]) if a["t_done"]):
        fail("activity", "no pipelined commands")


def qresync_uid():
    q = load("activity-qresync")["sessions"]
    vanished = [r for s in q for r in s["activity"]
                if r["action"] == "expunge" and r["command"] == "UID EXPUNGE"]
    if sorted(r["uid"] for r in vanished) != [2, 4, 5]:
        fail("activity-qresync", "expunged UIDs %s, want 2, 4, 5 (not VANISHED (EARLIER))"
             % sorted(r["uid"] for r in vanished))
    u = load("activity-uid")["sessions"][0]
    msg_cmds = {"FETCH", "STORE", "COPY", "MOVE", "EXPUNGE", "SEARCH"}
    if any(c["command"] in msg_cmds for c in u["commands"]):
        fail("activity-uid", "a message command without UID")
    if not all(r["seq"] for r in u["activity"] if r["action"] in ("read", "expunge")):
        fail("activity-uid", "a read or expunge without the server's sequence number")


def concurrent():
    a, b = load("activity-concurrent")["sessions"]
    if any(r["action"] == "expunge" for r in a["activity"]):
        fail("activity-concurrent", "another session's EXPUNGE charged to the first")
    reads = [(r["seq"], r["uid"]) for r in a["activity"] if r["action"].startswith("read")]
    if reads != [(6, 7), (2, 3)]:
        fail("activity-concurrent", "reads after EXISTS/EXPUNGE at (seq, uid) %s, "
             "want [(6, 7), (2, 3)]" % reads)
    if not [r for r in b["activity"] if r["action"] == "expunge" and r["uid"] is None]:
        fail("activity-concurrent", "no expunge with an unknown UID (null)")


def main():
    files = sorted(glob.glob(os.path.join(CAPS, "activity*.truth.json")))
    if len(files) < 6:
        fail("captures", "%d activity truth files, want at least 6" % len(files))
    n = sum(check_file(f) for f in files)
    main_scenario()
    qresync_uid()
    concurrent()
    print("activity truth: %d files, %d records, %d failures" % (len(files), n, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
