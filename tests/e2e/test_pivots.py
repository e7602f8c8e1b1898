#!/usr/bin/env python3
"""The keys that let -F json lines join other tools' records (issue 20).

- community_id equals what tshark's communityid post-dissector computes for
  the same flow (`tshark --enable-protocol communityid`), on IPv4 and IPv6
  (captures/dual-stack.pcap has both; every public capture too);
- every event of a session carries v 2 and the session's flow keys, src the
  client and dest the server of its client/server strings, IPv6 bare;
- flow_id is the same on a second run and differs between sessions;
- every key of every -F json line of captures/ is one its type's schema
  definition describes (test_schema.py checks the values).
"""
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REPO") or os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from public import public_dir, skip  # noqa: E402
IMAPSCOPE = os.environ.get("IMAPSCOPE") or os.path.join(REPO, "imapscope")
PUBLIC = public_dir()
FLOW_KEYS = ("flow_id", "community_id", "src_ip", "src_port", "dest_ip", "dest_port")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def events(cap, *extra):
    p = subprocess.run([IMAPSCOPE, "-q", "-F", "json", *extra, cap], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    if p.returncode not in (0, 1):
        fail(f"{cap}: exit {p.returncode}")
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


def split_addr(s):
    """"ip:port" or "[v6]:port" -> (bare ip, port)."""
    m = re.fullmatch(r"\[(.*)\]:(\d+)", s) or re.fullmatch(r"(.*):(\d+)", s)
    return m.group(1), int(m.group(2))


def tshark_ids(cap):
    """{frozenset of two (ip, port)}: set of community ids tshark gives."""
    p = subprocess.run(["tshark", "--enable-protocol", "communityid", "-r", cap, "-Y", "tcp",
                        "-T", "fields", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
                        "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                        "-e", "communityid"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=300)
    ids = {}
    for line in p.stdout.decode().splitlines():
        f = line.split("\t")
        if len(f) != 7 or any("," in x for x in f) or not f[6]:
            continue    # tunnels, fragments: not what a session is keyed by
        src, dst = (f[0] or f[1]), (f[3] or f[4])
        key = frozenset([(src, int(f[2])), (dst, int(f[5]))])
        ids.setdefault(key, set()).add(f[6])
    return ids


def check_session_keys(cap, evs):
    """Flow keys on every event, as the session's client and server say."""
    start = {}
    for e in evs:
        if e.get("v") != 2:
            fail(f"{cap}: a line without v 2: {str(e)[:120]}")
            return {}
        if e["type"] == "session_start":
            start[e["session"]] = e
    for e in evs:
        s = start.get(e["session"])
        if s is None:
            continue
        missing = [k for k in FLOW_KEYS if k not in e]
        if missing:
            fail(f"{cap}: session {e['session']} {e['type']} lacks {missing}")
            continue
        cip, cport = split_addr(s["client"])
        sip, sport = split_addr(s["server"])
        got = (e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"])
        if got != (cip, cport, sip, sport):
            fail(f"{cap}: session {e['session']} {e['type']}: {got} is not "
                 f"{s['client']} -> {s['server']}")
        if any(e[k] != s[k] for k in ("flow_id", "community_id")):
            fail(f"{cap}: session {e['session']}: flow ids change within the session")
    return start


def check_community_ids(cap, start, seen):
    ids = tshark_ids(cap)
    for sid, s in sorted(start.items()):
        key = frozenset([(s["src_ip"], s["src_port"]), (s["dest_ip"], s["dest_port"])])
        theirs = ids.get(key)
        if theirs is None:
            continue    # tshark did not see it as TCP over IP (e.g. cut headers)
        if theirs != {s["community_id"]}:
            fail(f"{cap}: session {sid}: community_id {s['community_id']}, tshark {theirs}")
        else:
            seen[6 if ":" in s["src_ip"] else 4] += 1


def check_flow_ids(cap, start, again):
    first = {sid: s["flow_id"] for sid, s in start.items()}
    second = {e["session"]: e["flow_id"] for e in again if e["type"] == "session_start"}
    if first != second:
        fail(f"{cap}: flow_id differs between two runs")
    if len(set(first.values())) != len(first):
        fail(f"{cap}: two sessions share a flow_id")


def check_keys_described(cap, evs, schema):
    defs = schema["$defs"]
    for e in evs:
        d = defs.get(e["type"])
        if d is None:
            fail(f"{cap}: type {e['type']} has no definition")
            continue
        extra = set(e) - set(d.get("properties", {}))
        if extra:
            fail(f"{cap}: {e['type']} keys not in the schema: {sorted(extra)}")


def main():
    if subprocess.run(["tshark", "--version"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        print("test_pivots: tshark is missing")
        return 1
    with open(os.path.join(REPO, "docs", "events.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    caps = sorted(glob.glob(os.path.join(REPO, "captures", "*.pcap*")))
    if PUBLIC is None:
        skip("Community IDs of the public captures")
        public = []
    else:
        public = sorted(glob.glob(os.path.join(PUBLIC, "*.pcap*")))
    seen = {4: 0, 6: 0}
    for cap in caps + public:
        evs = events(cap)
        start = check_session_keys(cap, evs)
        if cap in caps:
            check_keys_described(cap, evs, schema)
        if cap.endswith("dual-stack.pcap") or cap in public:
            check_community_ids(cap, start, seen)
            check_flow_ids(cap, start, events(cap))
    if seen[4] == 0 or seen[6] == 0:
        fail(f"community_id compared with tshark on {seen[4]} IPv4 and {seen[6]} IPv6 "
             "sessions: both are needed")
    print(f"test_pivots: {len(caps) + len(public)} captures, community_id equal to "
          f"tshark's on {seen[4]} IPv4 and {seen[6]} IPv6 sessions, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
