#!/usr/bin/env python3
"""Tiny classic-pcap reader/writer and the derivations of damaged captures.

usage:
  pcaptool.py conns CAPTURE                       list TCP connections (SYN order)
  pcaptool.py start-mid IN OUT TRUTH_IN TRUTH_OUT --mark NAME
        cut everything before the first packet after the mark's time
  pcaptool.py start-in-literal IN OUT TRUTH_IN TRUTH_OUT --mark NAME
  pcaptool.py end-in-literal   IN OUT TRUTH_IN TRUTH_OUT --mark NAME
        cut the file in the middle of the server's literal answering the
        command recorded under mark NAME (keep the second / first half)
  pcaptool.py remove-segments  IN OUT TRUTH_IN TRUTH_OUT --mark NAME [--count 3]
        drop COUNT server data segments from the middle of that literal

Only classic pcap with Ethernet (1), raw (101) or Linux cooked (113, 276)
link types; that is all tcpdump writes here.  Standard library only.
"""
import argparse
import json
import struct
import sys


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        return read_pcapng(data)
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("%s: not a classic pcap" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    pkts = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkts.append({"ts": sec + frac / (1e9 if nano else 1e6),
                     "hdr": data[off:off + 16], "data": data[off + 16:off + 16 + incl]})
        off += 16 + incl
    return {"header": data[:24], "linktype": linktype, "packets": pkts, "e": e}


def read_pcapng(data):
    """Enough pcapng for conns(): the first interface's link type, EPBs."""
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    off, linktypes, pkts = 0, [], []
    while off + 12 <= len(data):
        btype, blen = struct.unpack(e + "II", data[off:off + 8])
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            linktypes.append(struct.unpack(e + "H", body[:2])[0])
        elif btype == 6:
            _, hi, lo, cap = struct.unpack(e + "IIII", body[:16])
            pkts.append({"ts": ((hi << 32) | lo) / 1e6, "hdr": b"", "data": body[20:20 + cap]})
        off += blen
    return {"header": None, "linktype": linktypes[0] if linktypes else 1, "packets": pkts, "e": e}


def write_pcap(path, cap, packets):
    with open(path, "wb") as f:
        f.write(cap["header"])
        for p in packets:
            f.write(p["hdr"])
            f.write(p["data"])


def tcp_info(linktype, d):
    """(src, sport, dst, dport, flags, seq, payload_len) or None."""
    if linktype == 1:
        off, et = 14, struct.unpack(">H", d[12:14])[0]
    elif linktype == 113:
        off, et = 16, struct.unpack(">H", d[14:16])[0]
    elif linktype == 276:
        off, et = 20, struct.unpack(">H", d[0:2])[0]
    elif linktype == 101:
        off, et = 0, 0x0800 if d[0] >> 4 == 4 else 0x86DD
    else:
        return None
    if et == 0x0800:
        ihl = (d[off] & 15) * 4
        if d[off + 9] != 6:
            return None
        total = struct.unpack(">H", d[off + 2:off + 4])[0]
        src = ".".join(str(b) for b in d[off + 12:off + 16])
        dst = ".".join(str(b) for b in d[off + 16:off + 20])
        t, iplen = off + ihl, total - ihl
    elif et == 0x86DD:
        if d[off + 6] != 6:
            return None
        import ipaddress
        src = "[%s]" % ipaddress.IPv6Address(bytes(d[off + 8:off + 24]))
        dst = "[%s]" % ipaddress.IPv6Address(bytes(d[off + 24:off + 40]))
        t, iplen = off + 40, struct.unpack(">H", d[off + 4:off + 6])[0]
    else:
        return None
    if len(d) < t + 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", d[t:t + 8])
    doff = (d[t + 12] >> 4) * 4
    flags = d[t + 13]
    return (src, sport, dst, dport, flags, seq, iplen - doff)


def conns(cap):
    out = []
    for p in cap["packets"]:
        ti = tcp_info(cap["linktype"], p["data"])
        if ti and ti[4] & 0x02 and not ti[4] & 0x10:          # SYN without ACK
            out.append({"client": "%s:%d" % (ti[0], ti[1]),
                        "server": "%s:%d" % (ti[2], ti[3]), "ts": p["ts"]})
    return out


def find_mark(truth, name):
    for s in truth["sessions"]:
        for m in s.get("marks", []):
            if m["name"] == name:
                cmd = next((c for c in s["commands"] if c["tag"] == m.get("tag")), None)
                return s, m, cmd
    raise SystemExit("mark %s not found in truth" % name)


def literal_segments(cap, session, cmd):
    """Indexes of server->client data packets of this session sent while cmd ran."""
    cport = int(session["client"].rsplit(":", 1)[1])
    idx = []
    for i, p in enumerate(cap["packets"]):
        ti = tcp_info(cap["linktype"], p["data"])
        if not ti or ti[3] != cport or ti[6] <= 0:
            continue
        if cmd["t_sent"] <= p["ts"] <= cmd["t_done"]:
            idx.append(i)
    if len(idx) < 6:
        raise SystemExit("too few literal segments (%d) to cut" % len(idx))
    return idx


def derive(args):
    cap = read_pcap(args.input)
    with open(args.truth_in) as f:
        truth = json.load(f)
    session, mark, cmd = find_mark(truth, args.mark)
    pk = cap["packets"]
    check = {"mode": "window", "from": None, "to": None, "margin_s": 0.005}
    if args.op == "start-mid":
        i = next(i for i, p in enumerate(pk) if p["ts"] > mark["t"])
        kept = pk[i:]
        check["from"] = pk[i]["ts"]
        what = "starts mid-session, just before %s" % mark["name"]
    else:
        seg = literal_segments(cap, session, cmd)
        mid = seg[len(seg) // 2]
        if args.op == "start-in-literal":
            kept = pk[mid:]
            check["from"] = pk[mid]["ts"]
            what = "starts inside the literal answering %s %s" % (cmd["tag"], cmd["command"])
        elif args.op == "end-in-literal":
            kept = pk[:mid + 1]
            check["to"] = pk[mid]["ts"]
            what = "ends inside the literal answering %s %s" % (cmd["tag"], cmd["command"])
        else:
            drop = set(seg[len(seg) // 2 - args.count // 2:][:args.count])
            kept = [p for i, p in enumerate(pk) if i not in drop]
            check = {"mode": "all"}
            what = ("%d server data segments removed inside the literal answering %s %s; "
                    "every command and completion is still recoverable"
                    % (len(drop), cmd["tag"], cmd["command"]))
    write_pcap(args.output, cap, kept)
    truth["check"] = check
    truth["damage"] = what
    truth["derived_from"] = truth.get("capture")
    truth["capture"] = args.output.rsplit("/", 1)[-1]
    with open(args.truth_out, "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="op", required=True)
    c = sub.add_parser("conns")
    c.add_argument("input")
    for op in ("start-mid", "start-in-literal", "end-in-literal", "remove-segments"):
        d = sub.add_parser(op)
        d.add_argument("input")
        d.add_argument("output")
        d.add_argument("truth_in")
        d.add_argument("truth_out")
        d.add_argument("--mark", required=True)
        d.add_argument("--count", type=int, default=3)
    a = p.parse_args()
    if a.op == "conns":
        json.dump(conns(read_pcap(a.input)), sys.stdout, indent=1)
        print()
    else:
        derive(a)


if __name__ == "__main__":
    main()
