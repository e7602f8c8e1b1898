#!/usr/bin/env python3
"""Hostile transport, end to end (issue 15, item 1): plain IMAP where TLS or
DEFLATE was agreed, and text injected around STARTTLS.  Each capture is
generated here with test_hostile's pcap writer; each direction is judged on
its own, so a client in clear facing a server in TLS is a case too.

The project's real TLS and COMPRESS captures must come out without any of
the new notices, with and without their keys."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_hostile import (IMAPSCOPE, REPO, MB, SAN, Case, Conn, Pcap, greet,  # noqa: E402
                          tls_record, client_hello, raw_deflate, run, check_run, events)

KINDS = ("starttls_not_negotiated", "plaintext_on_tls_port", "compress_not_applied",
         "starttls_injection", "inflate_limit")


def server_hello():
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x13\x01" + b"\x00" + b"\x00\x00"
    return b"\x02" + len(body).to_bytes(3, "big") + body


def capture(tmp, name, script, sport=143):
    path = os.path.join(tmp, name + ".pcap")
    p = Pcap(path)
    c = Conn(p, sport=sport)
    script(c)
    c.fin()
    p.close()
    return path


def run_json(case, path, *extra):
    res = run(["-F", "json", *extra, path])
    check_run(case, res, 40)
    return events(res[1])


def notices(evs, kind):
    return [e for e in evs if e.get("type") == "notice" and e.get("kind") == kind]


def of_type(evs, t):
    return [e for e in evs if e.get("type") == t]


def summary_transport(case, path):
    evs = run_json(case, path, "--summary")
    sess = [e for e in evs if "transport" in e and isinstance(e["transport"], str)]
    return sess[0]["transport"] if sess else None


def logins_flags(case, path):
    evs = run_json(case, path, "--logins")
    return [e.get("flags", []) for e in evs if e.get("type") == "login"]


def check_cleartext_login(case, path, evs, user):
    logins = [e for e in of_type(evs, "login") if e.get("user") == user]
    if not case.check(len(logins) == 1, f"{len(logins)} login events for {user}"):
        return
    ev = logins[0]
    case.check(ev.get("transport") == "plain", f"login transport {ev.get('transport')}")
    case.check(ev.get("cleartext_secret") is True, "cleartext_secret not set")
    case.check(ev.get("cleartext_after_starttls") is True, "cleartext_after_starttls not set")
    flags = logins_flags(case, path)
    case.check(any("cleartext_after_starttls" in f for f in flags),
               f"--logins flags {flags} lack cleartext_after_starttls")


def case_stripped_starttls(tmp):
    """The server's OK to STARTTLS, then both sides go on in clear."""
    case = Case("stripped STARTTLS")

    def script(c):
        greet(c)
        c.send("c", b"a1 STARTTLS\r\n")
        c.send("s", b"a1 OK Begin TLS negotiation now\r\n")
        c.send("c", b"a2 LOGIN alice s3cret\r\n")
        c.send("s", b"a2 OK LOGIN completed\r\n")
        c.send("c", b"a3 LOGOUT\r\n")
        c.send("s", b"* BYE bye\r\na3 OK LOGOUT completed\r\n")
    path = capture(tmp, "stripped", script)
    evs = run_json(case, path)
    check_cleartext_login(case, path, evs, "alice")
    case.check(len(notices(evs, "starttls_not_negotiated")) == 2,
               f"notices: {[e['text'] for e in of_type(evs, 'notice')]}")
    case.check(not of_type(evs, "tls"), "a tls event for TLS that never began")
    case.check(summary_transport(case, path) == "plain", "--summary does not say plain")
    text = run(["--color=never", path])[1]
    end = [l for l in text if b" end (" in l]
    case.check(len(end) == 1 and b"not decrypted" not in end[0],
               f"the end line calls plain directions undecrypted: {end}")


def case_stripped_client_only(tmp):
    """The server begins TLS, the client goes on in clear: only the client
    direction is plain."""
    case = Case("client in clear, server in TLS")

    def script(c):
        greet(c)
        c.send("c", b"a1 STARTTLS\r\n")
        c.send("s", b"a1 OK Begin TLS\r\n")
        c.send("s", tls_record(22, server_hello()))
        c.send("c", b"a2 LOGIN bob hunter2\r\n")
    path = capture(tmp, "client-only", script)
    evs = run_json(case, path)
    commands = [e.get("command") for e in of_type(evs, "command")]
    case.check("LOGIN" in commands, f"commands {commands}")
    check_cleartext_login(case, path, evs, "bob")
    n = notices(evs, "starttls_not_negotiated")
    case.check(len(n) == 1 and "client" in n[0]["text"], f"notices {n}")
    case.check(summary_transport(case, path) == "plain", "--summary does not say plain")


def case_plain_on_993(tmp):
    """Plain IMAP on the implicit-TLS port is dissected like on 143."""
    case = Case("plaintext on 993")

    def script(c):
        greet(c)
        c.send("c", b"a1 LOGIN carol pw\r\n")
        c.send("s", b"a1 OK LOGIN completed\r\n")
        c.send("c", b"a2 SELECT INBOX\r\n")
        c.send("s", b"* 3 EXISTS\r\na2 OK [READ-WRITE] SELECT completed\r\n")
    path = capture(tmp, "plain993", script, sport=993)
    evs = run_json(case, path)
    case.check(len(of_type(evs, "command")) == 2, f"{len(of_type(evs, 'command'))} commands")
    case.check(len(notices(evs, "plaintext_on_tls_port")) == 2, "no plaintext_on_tls_port notice")
    logins = of_type(evs, "login")
    case.check(len(logins) == 1 and logins[0].get("transport") == "plain"
               and logins[0].get("cleartext_secret") is True, f"logins {logins}")
    case.check(summary_transport(case, path) == "plain", "--summary does not say plain")


def case_compress_not_applied(tmp):
    """COMPRESS DEFLATE answered OK, then both sides go on in clear."""
    case = Case("COMPRESS not applied")

    def script(c):
        greet(c)
        c.send("c", b"a1 LOGIN dave pw\r\n")
        c.send("s", b"a1 OK done\r\n")
        c.send("c", b"a2 COMPRESS DEFLATE\r\n")
        c.send("s", b"a2 OK DEFLATE active\r\n")
        c.send("c", b"a3 SELECT INBOX\r\n")
        c.send("s", b"* 7 EXISTS\r\na3 OK SELECT completed\r\n")
        c.send("c", b"a4 LOGOUT\r\n")
        c.send("s", b"* BYE\r\na4 OK bye\r\n")
    path = capture(tmp, "compress-plain", script)
    evs = run_json(case, path)
    done = [e.get("tag") for e in of_type(evs, "response")]
    case.check(done == ["a1", "a2", "a3", "a4"], f"responses {done}")
    case.check(len(notices(evs, "compress_not_applied")) == 2, "no compress_not_applied notice")


def case_compress_client_only(tmp):
    """The server compresses, the client does not: each side on its own."""
    case = Case("COMPRESS applied by the server only")

    def script(c):
        greet(c)
        c.send("c", b"a2 COMPRESS DEFLATE\r\n")
        c.send("s", b"a2 OK DEFLATE active\r\n")
        c.send("c", b"a3 SELECT INBOX\r\n")
        c.send("s", raw_deflate([b"* 7 EXISTS\r\na3 OK SELECT completed\r\n"]))
    path = capture(tmp, "compress-half", script)
    evs = run_json(case, path)
    done = [(e.get("tag"), e.get("command")) for e in of_type(evs, "response")]
    case.check(("a3", "SELECT") in done, f"responses {done}")
    n = notices(evs, "compress_not_applied")
    case.check(len(n) == 1 and "client" in n[0]["text"], f"notices {n}")


def case_injection_same_segment(tmp):
    """CVE-2011-0411: LOGIN in the STARTTLS segment, then a real handshake."""
    case = Case("STARTTLS injection (client)")

    def script(c):
        greet(c)
        c.send("c", b"a1 STARTTLS\r\na2 LOGIN mallory pw\r\n")
        c.send("s", b"a1 OK Begin TLS\r\n")
        c.send("c", tls_record(22, client_hello(1)))
        c.send("s", tls_record(22, server_hello()))
        c.send("c", tls_record(23, os.urandom(64)))
        c.send("s", tls_record(23, os.urandom(64)))
    path = capture(tmp, "inject", script)
    evs = run_json(case, path)
    cmds = [(e.get("tag"), e.get("command")) for e in of_type(evs, "command")]
    case.check(("a2", "LOGIN") in cmds, f"commands {cmds}")
    n = notices(evs, "starttls_injection")
    case.check(len(n) == 1 and "client" in n[0]["text"], f"injection notices {n}")
    case.check(not notices(evs, "starttls_not_negotiated"), "TLS said not negotiated")
    case.check(not notices(evs, "tls_undecodable"), "the handshake was not read as TLS")
    check_cleartext_login(case, path, evs, "mallory")


def case_injection_server(tmp):
    """Text after the server's OK to STARTTLS in the same segment."""
    case = Case("STARTTLS injection (server)")

    def script(c):
        greet(c)
        c.send("c", b"a1 STARTTLS\r\n")
        c.send("s", b"a1 OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n")
        c.send("c", tls_record(22, client_hello(1)))
        c.send("s", tls_record(22, server_hello()))
    path = capture(tmp, "inject-server", script)
    evs = run_json(case, path)
    untagged = [e for e in of_type(evs, "untagged") if "injected" in e.get("text", "")]
    case.check(len(untagged) == 1, "the injected response is not shown")
    n = notices(evs, "starttls_injection")
    case.check(len(n) == 1 and "server" in n[0]["text"], f"injection notices {n}")
    case.check(not notices(evs, "starttls_not_negotiated"), "TLS said not negotiated")
    case.check(not notices(evs, "tls_undecodable"), "the handshake was not read as TLS")
    case.check(summary_transport(case, path) == "starttls", "--summary does not say starttls")


def bomb_capture(tmp, name, block, n_blocks):
    """COMPRESS DEFLATE OK, then a FETCH whose literal is n_blocks copies of
    block, compressed, and a completion after it."""
    def script(c):
        greet(c)
        c.send("c", b"a1 COMPRESS DEFLATE\r\n")
        c.send("s", b"a1 OK DEFLATE active\r\n")
        c.send("c", raw_deflate([b"a2 FETCH 1 BODY[]\r\n"]))
        c.send("s", raw_deflate([b"* 1 FETCH (BODY[] {%d}\r\n" % (n_blocks * len(block))]
                                + [block] * n_blocks + [b")\r\na2 OK done\r\n"]))
    return capture(tmp, name, script)


def run_bomb(case, tmp, path, extra, cap):
    """--streams and JSON on a bomb: exit 0, an inflate_limit notice, the
    loss counted, and no more than cap bytes written for the direction."""
    out = os.path.join(tmp, os.path.basename(path) + ".streams")
    os.mkdir(out)
    res = run(["-F", "json", "--streams", out, *extra, path])
    check_run(case, res, 40 if not SAN else 200)
    evs = events(res[1])
    lim = notices(evs, "inflate_limit")
    case.check(len(lim) == 1, f"inflate_limit notices: {lim}")
    ends = [e["summary"] for e in of_type(evs, "session_end")]
    case.check(ends and ends[0].get("capped", 0) >= 1, f"loss not counted: {ends}")
    case.check(ends and ends[0].get("gaps", 0) >= 1, f"no gap: {ends}")
    # the compressed bytes not inflated are the loss (half of them or more)
    case.check(ends and ends[0].get("gap_bytes", 0) * 3 > ends[0].get("wire_bytes_s2c", 0),
               f"loss not in gap_bytes: {ends}")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    case.check(size <= cap, f"--streams wrote {size} bytes, over {cap}")
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    os.rmdir(out)
    return lim[0]["text"] if lim else ""


def case_inflate_bomb(tmp):
    """A zlib bomb (about 1030:1) stops past the first MB of output; a
    stream under the ratio stops at --max-inflate."""
    case = Case("inflate bomb")
    n = 64 if not SAN else 16
    path = bomb_capture(tmp, "bomb-zeros", bytes(MB), 8 * n)
    text = run_bomb(case, tmp, path, [], 2 * MB)
    case.check("decompression bomb" in text, f"notice {text!r}")
    block = bytearray(MB)
    block[::2048] = b"A" * (MB // 2048)         # about 630:1
    path = bomb_capture(tmp, "bomb-capped", bytes(block), 2 * n)
    text = run_bomb(case, tmp, path, ["--max-inflate", str(n * MB)], (n + 1) * MB)
    case.check("--max-inflate" in text, f"notice {text!r}")
    for bad in ("0", "x", "-1"):
        out = subprocess.run([IMAPSCOPE, "--max-inflate", bad, path], capture_output=True)
        case.check(out.returncode == 2 and out.stderr.startswith(b"imapscope: "),
                   f"--max-inflate {bad}: exit {out.returncode}")


def case_real_captures():
    """No false anomaly on real TLS and COMPRESS captures."""
    case = Case("real captures")
    caps = os.path.join(REPO, "captures")
    for name in ("starttls12", "starttls13", "imaplib-tls", "s_client", "implicit-ecdhe",
                 "implicit-rsa", "compress", "compress-tls", "curl"):
        pcap = os.path.join(caps, name + ".pcap")
        keys = os.path.join(caps, name + ".keylog")
        runs = [[]] + ([["-k", keys]] if os.path.exists(keys) else [])
        for extra in runs:
            out = subprocess.run([IMAPSCOPE, "-F", "json", *extra, pcap],
                                 capture_output=True, check=False)
            case.check(out.returncode == 0, f"{name} {extra}: exit {out.returncode}")
            evs = [json.loads(l) for l in out.stdout.splitlines()]
            bad = [e for e in evs if e.get("type") == "notice" and e.get("kind") in KINDS]
            case.check(not bad, f"{name} {extra}: {bad}")
            flagged = [e for e in evs if e.get("cleartext_after_starttls")]
            case.check(not flagged, f"{name} {extra}: flagged logins {flagged}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for f in (case_stripped_starttls, case_stripped_client_only, case_plain_on_993,
                  case_compress_not_applied, case_compress_client_only,
                  case_injection_same_segment, case_injection_server, case_inflate_bomb):
            f(tmp)
    case_real_captures()
    if Case.failures:
        print(f"test_hostile_transport: {Case.failures} failures")
        sys.exit(1)
    print("test_hostile_transport: plain text where TLS or DEFLATE was agreed is dissected")


if __name__ == "__main__":
    main()
