#!/usr/bin/env python3
"""End-to-end check of imapscope's JSON against the corpus ground truth.

For every captures/*.truth.json (written by scripts/make-captures.sh from the
client side), run

    $IMAPSCOPE -F json -q [-k KEYLOG] [--rsa-key KEY] [-p PORT...] CAPTURE

and compare, session by session (matched on the client "ip:port"):

  commands     command events whose tag and upper-case name match the truth
  completions  response events whose tag and status match the truth
  logins       login events whose mechanism, result (and user) match
  ghosts       command or response events that the truth does not have
               (parsed out of literal bodies, say) - must be 0
  known        completions a session's "known_misses" lists (a known
               imapscope gap the truth records): printed, neither passed nor
               failed

Commands the client sent inside TLS or COMPRESS count only when imapscope
says it decrypted / decoded that session (`tls.decrypted`, `compress.decoded`);
otherwise they are listed as "expected later", never as passed.  Damaged
captures (derived cuts) only require what lies inside their "check" window.

Env: IMAPSCOPE (binary), REPO (repo root), CORPUS_ALLOW_FAIL=1 to report
without failing (while the analyzer is being written), CORPUS_ONLY=NAME,...
to run a subset, CORPUS_VERBOSE=1 to list every miss and ghost.
Exit 0 when every capture's figures are right, 1 otherwise.
Standard library only.
"""
import collections
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REPO") or os.path.abspath(os.path.join(HERE, "..", ".."))
IMAPSCOPE = os.environ.get("IMAPSCOPE") or os.path.join(REPO, "imapscope")
ALLOW_FAIL = os.environ.get("CORPUS_ALLOW_FAIL") == "1"
VERBOSE = os.environ.get("CORPUS_VERBOSE") == "1"
ONLY = [x for x in os.environ.get("CORPUS_ONLY", "").split(",") if x]
TIMEOUT_S = 120


def run_imapscope(truth, capdir):
    cap = os.path.join(capdir, truth["capture"])
    args = [IMAPSCOPE, "-F", "json", "-q"]
    if truth.get("keylog"):
        args += ["-k", os.path.join(capdir, truth["keylog"])]
    if truth.get("rsa_key"):
        args += ["--rsa-key", os.path.join(capdir, truth["rsa_key"])]
    for p in truth.get("extra_ports") or []:
        args += ["-p", str(p)]
    args.append(cap)
    try:
        r = subprocess.run(args, capture_output=True, timeout=TIMEOUT_S)
    except FileNotFoundError:
        return None, "binary not found: %s" % IMAPSCOPE
    except OSError as e:
        return None, "cannot run %s: %s" % (IMAPSCOPE, e)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % TIMEOUT_S
    if r.returncode != 0:
        err = r.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, "exit %d: %s" % (r.returncode, err[-1] if err else "")
    events, bad = [], 0
    for line in r.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(ev, dict):
            events.append(ev)
        else:
            bad += 1
    if bad:
        return events, "%d output lines are not JSON objects" % bad
    return events, None


class Observed:
    """What imapscope reported for one session."""

    def __init__(self):
        self.client = None
        self.commands = collections.Counter()      # (tag, COMMAND)
        self.responses = collections.Counter()     # (tag, STATUS)
        self.resp_cmd = collections.defaultdict(list)  # (tag, STATUS) -> [command]
        self.logins = []
        self.tls_decrypted = None
        self.compress_decoded = None


def observe(events):
    sessions = collections.OrderedDict()
    for ev in events:
        sid = ev.get("session")
        o = sessions.setdefault(sid, Observed())
        t = ev.get("type")
        if t == "session_start":
            o.client = ev.get("client")
        elif t == "command":
            o.commands[(str(ev.get("tag")), str(ev.get("command", "")).upper())] += 1
        elif t == "response":
            key = (str(ev.get("tag")), str(ev.get("status")))
            o.responses[key] += 1
            o.resp_cmd[key].append(ev.get("command"))
        elif t == "login":
            o.logins.append(ev)
        elif t == "tls":
            o.tls_decrypted = bool(ev.get("decrypted")) or bool(o.tls_decrypted)
        elif t == "compress":
            o.compress_decoded = bool(ev.get("decoded")) or bool(o.compress_decoded)
    return sessions


def required(truth, rec):
    """'req' (must be found) or 'opt' (may be found, is not a ghost)."""
    chk = truth.get("check") or {"mode": "all"}
    mode = chk.get("mode", "all")
    if mode == "all":
        return "req"
    if mode == "ghosts":
        return "opt"
    margin = chk.get("margin_s", 0.005)
    t0, t1 = rec.get("t_sent"), rec.get("t_done")
    if chk.get("from") is not None and (t0 is None or t0 < chk["from"] + margin):
        return "opt"
    if chk.get("to") is not None and (t1 is None or t1 > chk["to"] - margin):
        return "opt"
    return "req"


def visible(rec, obs):
    """False when rec travelled in a layer imapscope did not open (yet)."""
    layer = rec.get("layer", "plain")
    if "tls" in layer and not (obs and obs.tls_decrypted):
        return False
    if "compress" in layer and not (obs and obs.compress_decoded):
        return False
    return True


def login_matches(want, got):
    if str(got.get("mechanism", "")).upper() != want["mechanism"].upper():
        return False
    if got.get("result") != want["result"]:
        return False
    if want.get("user") and want["mechanism"].upper() != "ANONYMOUS":
        return got.get("user") == want["user"]
    return True


def check_capture(path):
    capdir = os.path.dirname(path)
    with open(path) as f:
        truth = json.load(f)
    name = truth["capture"]
    fig = collections.Counter()
    notes = []
    events, err = run_imapscope(truth, capdir)
    if events is None:
        return name, fig, [err], True
    if err:
        notes.append(err)
    obs = observe(events)
    by_client = {o.client: o for o in obs.values() if o.client}
    claimed = set()
    for ts in truth["sessions"]:
        o = by_client.get(ts["client"])
        if o is None and any(required(truth, c) == "req" for c in ts["commands"]):
            notes.append("session %s not found" % ts["client"])
        if o is not None:
            claimed.add(id(o))
        want_cmd = collections.Counter()
        want_resp = collections.Counter()
        for c in ts["commands"]:
            key = (c["tag"], c["command"])
            want_cmd[key] += 1
            if c["status"] in ("OK", "NO", "BAD"):
                want_resp[(c["tag"], c["status"])] += 1
        # completions the truth marks as not seen by imapscope yet (a
        # misbehave-* server's plain text after a TLS alert): reported, not failed
        known = {(k["tag"], k["status"]): k.get("why", "") for k in ts.get("known_misses") or []}
        got_cmd = o.commands.copy() if o else collections.Counter()
        got_resp = o.responses.copy() if o else collections.Counter()
        for c in ts["commands"]:
            req = required(truth, c)
            if not visible(c, o):
                fig["later"] += 1
                continue
            key = (c["tag"], c["command"])
            if req == "req":
                fig["cmd_req"] += 1
            if got_cmd[key] > 0:
                got_cmd[key] -= 1
                fig["cmd_found" if req == "req" else "cmd_opt_found"] += 1
            elif req == "req":
                fig["cmd_missed"] += 1
                if VERBOSE:
                    notes.append("missing command %s %s %s" % (ts["client"], *key))
            if c["status"] not in ("OK", "NO", "BAD"):
                continue
            rkey = (c["tag"], c["status"])
            if rkey in known and got_resp[rkey] == 0:
                fig["known"] += 1
                notes.append("known miss %s %s %s: %s" % (ts["client"], *rkey, known[rkey]))
                continue
            if req == "req":
                fig["resp_req"] += 1
            if got_resp[rkey] > 0:
                got_resp[rkey] -= 1
                if rkey in known:
                    notes.append("known miss now found %s %s %s: drop it from known_misses"
                                 % (ts["client"], *rkey))
                cmds = o.resp_cmd.get(rkey) or []
                if req == "req":
                    fig["resp_found"] += 1
                    if cmds and cmds[0] is not None and str(cmds[0]).upper() != c["command"]:
                        fig["resp_wrong_cmd"] += 1
                        notes.append("completion %s %s matched to %s, not %s"
                                     % (rkey[0], rkey[1], cmds[0], c["command"]))
                if cmds:
                    cmds.pop(0)
            elif req == "req":
                fig["resp_missed"] += 1
                if VERBOSE:
                    notes.append("missing completion %s %s %s" % (ts["client"], *rkey))
        # a server's second completion of a tag (misbehave-* truth) is no ghost
        for x in ts.get("extra_responses") or []:
            rkey = (x["tag"], x["status"])
            if rkey in known and got_resp[rkey] == 0:
                fig["known"] += 1
                notes.append("known miss %s %s %s: %s" % (ts["client"], *rkey, known[rkey]))
                continue
            fig["resp_req"] += 1
            if got_resp[rkey] > 0:
                got_resp[rkey] -= 1
                fig["resp_found"] += 1
            else:
                notes.append("missing extra completion %s %s %s" % (ts["client"], *rkey))
        # ghosts: anything reported beyond what the truth has for this session
        for key, n in got_cmd.items():
            if n > 0:
                fig["ghosts"] += n
                notes.append("ghost command %s %s %s" % (ts["client"], *key))
        unknown_status = {c["tag"] for c in ts["commands"] if c["status"] not in ("OK", "NO", "BAD")}
        for key, n in got_resp.items():
            if n > 0 and key[0] not in unknown_status:   # the client never read it
                fig["ghosts"] += n
                notes.append("ghost response %s %s %s" % (ts["client"], *key))
        got_logins = list(o.logins) if o else []
        for lg in ts["logins"]:
            rec = {"layer": lg.get("layer", "plain"), "t_sent": None, "t_done": None}
            tag_rec = next((c for c in ts["commands"] if c["tag"] == lg.get("tag")), rec)
            if not visible(tag_rec, o):
                continue
            req = required(truth, tag_rec)
            if req == "req":
                fig["login_req"] += 1
            hit = next((g for g in got_logins if login_matches(lg, g)), None)
            if hit is not None:
                got_logins.remove(hit)
                if req == "req":
                    fig["login_found"] += 1
            elif req == "req":
                notes.append("missing login %s %s %s %s"
                             % (ts["client"], lg.get("user"), lg["mechanism"], lg["result"]))
    for o in obs.values():
        if id(o) in claimed:
            continue
        n = sum(o.commands.values()) + sum(o.responses.values())
        if n:
            fig["ghosts"] += n
            notes.append("%d events in session %s, which the truth does not know" % (n, o.client))
    failed = (fig["cmd_found"] != fig["cmd_req"] or fig["resp_found"] != fig["resp_req"]
              or fig["login_found"] != fig["login_req"] or fig["ghosts"] or fig["resp_wrong_cmd"]
              or any(n.startswith("session ") for n in notes) or bool(err))
    return name, fig, notes, failed


def main():
    files = sorted(glob.glob(os.path.join(REPO, "captures", "*.truth.json")))
    if ONLY:
        files = [f for f in files if os.path.basename(f).split(".truth.json")[0] in ONLY]
    if not files:
        print("corpus: no truth files under %s/captures" % REPO)
        return 1
    print("corpus: %d captures, imapscope = %s%s" % (len(files), IMAPSCOPE,
          " (CORPUS_ALLOW_FAIL=1: reporting only)" if ALLOW_FAIL else ""))
    print("%-34s %11s %11s %9s %6s %6s  %s" % ("capture", "commands", "completions",
                                               "logins", "ghosts", "later", "result"))
    total = collections.Counter()
    nfail = 0
    for f in files:
        name, fig, notes, failed = check_capture(f)
        total.update(fig)
        nfail += bool(failed)
        later = ("%d" % fig["later"]) if fig["later"] else "-"
        print("%-34s %5d/%-5d %5d/%-5d %4d/%-4d %6d %6s  %s" % (
            name, fig["cmd_found"], fig["cmd_req"], fig["resp_found"], fig["resp_req"],
            fig["login_found"], fig["login_req"], fig["ghosts"], later,
            "FAIL" if failed else "ok"))
        if fig["known"]:
            print("    known misses: %d completions the truth marks as not seen yet "
                  "(not counted as passed)" % fig["known"])
        if fig["later"]:
            print("    expected later: %d commands inside TLS/COMPRESS that imapscope did "
                  "not decrypt/inflate (not counted as passed)" % fig["later"])
        for n in notes[:8 if not VERBOSE else None]:
            print("    " + n)
        if len(notes) > 8 and not VERBOSE:
            print("    ... %d more (CORPUS_VERBOSE=1 lists all)" % (len(notes) - 8))
    print("corpus total: commands %d/%d, completions %d/%d, logins %d/%d, ghosts %d, "
          "expected later %d; %d of %d captures failed" % (
              total["cmd_found"], total["cmd_req"], total["resp_found"], total["resp_req"],
              total["login_found"], total["login_req"], total["ghosts"], total["later"],
              nfail, len(files)))
    if nfail and ALLOW_FAIL:
        print("corpus: CORPUS_ALLOW_FAIL=1, not failing")
        return 0
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
