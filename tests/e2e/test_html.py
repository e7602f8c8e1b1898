#!/usr/bin/env python3
"""--html FILE (issue 19): the self-contained report.

Without a browser: the page's JSON parses and holds every session that
--summary -F json names, with the same counts; the Content-Security-Policy
allows no remote load and names the hashes of exactly the page's script
and style; no wire string can end the data element (the hostile capture's
"</script>", "<!--", quotes and tags appear only escaped); --html beside
the timeline, -F json and --logins leaves their output unchanged; a link,
an input or another output's file as FILE is refused with exit 2.

In headless Chromium (tests/browser/html.test.mjs, when /usr/bin/chromium
and tests/browser/node_modules are there): the reports of plain, TLS,
COMPRESS, damaged and many-session captures load with no console error and
no remote request, draw every session (table rows and timeline bars) with
the expected counts, open each session's ladder, and give a screenshot that
is not blank; the hostile capture's strings show as text and its injected
script does not run.  IMAPSCOPE_UPDATE_SCREENSHOT=1 writes the README's
screenshot (docs/html-report.png)."""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_hostile import SAN, Conn, Pcap  # noqa: E402  (the pcap writer)

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO", os.path.join(os.path.dirname(__file__), "..", ".."))
PUBLIC = os.environ.get("PUBLIC", "")
CAP = os.path.join(REPO, "captures")
BROWSER_DIR = os.path.join(REPO, "tests", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

failures = 0

# What the hostile capture sends, and so what the page must show as text.
H_MAILBOX = "<script>window.__pwned=1</script>"
H_USER = '"><img src=x onerror=window.__pwned=1>'
H_TEXT = "</script><script>window.__pwned=2</script><!-- & -->"
# a client line --check finds (tag-invalid), shown in the Findings section
H_FINDING = "a+9 NOOP <img src=x onerror=window.__pwned=5>"


def check(ok, msg):
    global failures
    if not ok:
        failures += 1
        print(f"FAIL: {msg}")


def run(args, **kw):
    return subprocess.run([IMAPSCOPE] + args, capture_output=True, timeout=600, **kw)


def page_parts(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r'<script type="application/json" id="imapscope-data">(.*?)</script>', text, re.S)
    return text, (m.group(1) if m else None)


def make_hostile(path):
    p = Pcap(path)
    c = Conn(p, cport=41000)
    c.send("s", b"* OK [CAPABILITY IMAP4rev1] " + H_TEXT.encode() + b"\r\n")
    quser = H_USER.replace('"', '\\"').encode()
    c.send("c", b'a1 LOGIN "' + quser + b'" secret\r\n')
    c.send("s", b"a1 NO [AUTHENTICATIONFAILED] " + H_TEXT.encode() + b"\r\n")
    c.send("c", b'a2 LOGIN "' + quser + b'" secret\r\n')
    c.send("s", b"a2 OK logged in\r\n")
    c.send("c", b'a3 SELECT "' + H_MAILBOX.encode() + b'"\r\n')
    c.send("s", b"* 1 EXISTS\r\n* FLAGS (\\Seen <b>x</b>)\r\na3 OK [READ-WRITE] " +
           H_TEXT.encode() + b"\r\n")
    c.send("c", "a4 STATUS \"line\u2028sep\u2029x\" (MESSAGES)\r\n".encode())
    c.send("s", b"a4 BAD " + H_TEXT.encode() + b"\r\n")
    c.send("c", H_FINDING.encode() + b"\r\n")
    c.send("s", b"a+9 BAD " + H_TEXT.encode() + b"\r\n")
    c.send("c", b"a5 LOGOUT\r\n")
    c.send("s", b"* BYE <img src=x onerror=window.__pwned=3>\r\na5 OK bye\r\n")
    c.fin()
    p.close()


def make_many(path, n):
    """n sessions, eight at a time, with a slow command now and then and
    some failed logins, so the timeline and latency charts have shape."""
    p = Pcap(path)
    for first in range(0, n, 8):
        batch = list(range(first, min(n, first + 8)))
        conns = {}
        for i in batch:
            p.us += 400_000 * (i % 3)
            conns[i] = Conn(p, cport=20000 + i)
            conns[i].send("s", b"* OK ready\r\n")
        for i in batch:
            c, user = conns[i], b"user%d" % (i % 17)
            if i % 9 == 4:
                c.send("c", b"a0 LOGIN " + user + b" wrong\r\n")
                p.us += 200_000
                c.send("s", b"a0 NO [AUTHENTICATIONFAILED] bad\r\n")
            c.send("c", b"a1 LOGIN " + user + b" pw\r\n")
            p.us += 2000 + 300 * (i % 5)
            c.send("s", b"a1 OK done\r\n")
        for i in batch:
            c = conns[i]
            c.send("c", b"a2 SELECT INBOX\r\n")
            p.us += 1000 + (i * 7919) % 5000
            c.send("s", b"* 3 EXISTS\r\na2 OK [READ-WRITE] done\r\n")
        for i in batch:
            c = conns[i]
            c.send("c", b"a3 FETCH 1:3 (FLAGS BODY[])\r\n")
            p.us += 500 + (900_000 if i == n // 2 else 20_000 * (i % 4))
            c.send("s", b"".join(b"* %d FETCH (FLAGS (\\Seen) BODY[] {%d}\r\n%s)\r\n"
                                 % (k, 40 * k * (1 + i % 5), b"x" * (40 * k * (1 + i % 5)))
                                 for k in (1, 2, 3)) + b"a3 OK done\r\n")
        for i in batch:
            c = conns[i]
            p.us += 300_000 * (i % 4)
            c.send("c", b"a4 LOGOUT\r\n")
            c.send("s", b"* BYE\r\na4 OK bye\r\n")
            c.fin()
        p.us += 1_000_000
    p.close()


def expected(args):
    """Sessions, commands and logins the page must show, from the other outputs."""
    out = run(["--summary", "-F", "json"] + args)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    sessions = [x["session"] for x in lines if x["type"] == "session_summary"]
    cap = [x for x in lines if x["type"] == "capture_summary"]
    logins = run(["-F", "json"] + args).stdout.decode().count('"type":"login"')
    return {"sessions": sessions, "commands": cap[0]["commands"] if cap else 0, "logins": logins}


def check_page(name, path, want):
    text, data = page_parts(path)
    check(data is not None, f"{name}: no data element")
    if data is None:
        return None
    check("</" not in data and "<!--" not in data and "<" not in data,
          f"{name}: the data element holds a raw '<'")
    d = json.loads(data)
    check(sorted(s["id"] for s in d["sessions"]) == sorted(want["sessions"]),
          f"{name}: sessions {[s['id'] for s in d['sessions']]}, --summary has {want['sessions']}")
    check(sum(s["commands"] for s in d["sessions"]) == want["commands"],
          f"{name}: commands differ from --summary's {want['commands']}")
    check(len(d["logins"]) == want["logins"], f"{name}: {len(d['logins'])} logins, expected {want['logins']}")
    check(set(d["sections"]) >= {"activity", "findings"}, f"{name}: optional sections missing")
    if shutil.which("node"):
        r = subprocess.run(["node", "--check", os.path.join(REPO, "src", "report", "html", "report.js")],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"report.js does not parse: {r.stderr}")
    # the policy: no remote load, exactly this script and this style
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    check(csp is not None, f"{name}: no Content-Security-Policy")
    if csp:
        pol = csp.group(1)
        check("default-src 'none'" in pol and "http" not in pol and "unsafe" not in pol,
              f"{name}: policy too wide: {pol}")
        scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
        styles = re.findall(r"<style>(.*?)</style>", text, re.S)
        for kind, bodies in (("script-src", scripts), ("style-src", styles)):
            check(len(bodies) == 1, f"{name}: {len(bodies)} inline {kind} elements")
            for b in bodies:
                h = base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()
                check(f"{kind} 'sha256-{h}'" in pol, f"{name}: {kind} hash does not match")
    check(not re.search(r"(src|href)=\"?(https?:)?//", text), f"{name}: a remote reference")
    return d


ACTIVITY_CAP = 20000  # ACTIVITY_HTML_ROWS, HTML_FINDINGS_MAX
PAGE_ROWS = 500       # report.js MAX_ROWS: rows a table draws


def json_lines(args, kind):
    out = run(["-F", "json"] + args).stdout.decode()
    return [x for x in map(json.loads, out.splitlines()) if x["type"] == kind]


def check_sections(name, d, flags, args):
    """The page's Activity and Findings rows against --activity and --check
    -F json: the same records, each once (their order may differ: a
    record waits for its completion there).  Returns the rows drawn."""
    drawn = {}
    secs = d["sections"]
    for flag, sec, kind, key in (
            ("--activity", "activity", "activity",
             lambda x: (x["session"], x["action"], x["mailbox"], x.get("uid"), x["result"])),
            ("--check", "findings", "finding",
             lambda x: (x["session"], x["frame"], x["rule"], x["side"], x["severity"]))):
        if flag not in flags:
            check(secs.get(sec) is None, f"{name}: section {sec} without {flag}")
            continue
        v = secs.get(sec)
        check(isinstance(v, dict) and isinstance(v.get("rows"), list), f"{name}: no {sec} rows")
        if not isinstance(v, dict):
            continue
        want = json_lines([flag] + args, kind)
        check(len(v["rows"]) == min(len(want), ACTIVITY_CAP) and
              v["omitted"] == max(0, len(want) - ACTIVITY_CAP) and v["limit"] == ACTIVITY_CAP,
              f"{name}: {sec}: {len(v['rows'])} rows, {v['omitted']} omitted; -F json has {len(want)}")
        check(sorted(map(repr, map(key, v["rows"]))) == sorted(map(repr, map(key, want))),
              f"{name}: {sec} rows differ from {flag} -F json")
        check(len(want) > 0, f"{name}: {flag} found nothing to show (a weak test)")
        drawn[sec] = min(len(v["rows"]), PAGE_ROWS)
    if "--activity" in flags:
        # the per-user roll-ups, a row per (user, client host, action, mailbox)
        want = [dict(a, user=x["user"], **{"from": x["from"]}, sessions=x["sessions"])
                for x in json_lines(["--activity"] + args, "activity_summary")
                if x["scope"] == "user" for a in x["actions"]]
        v = secs.get("activity_users") or {"rows": []}
        check(sorted(map(repr, (sorted(r.items()) for r in v["rows"]))) ==
              sorted(map(repr, (sorted(r.items()) for r in want))),
              f"{name}: activity_users rows differ from the user activity_summary lines")
        drawn["activity_users"] = min(len(v["rows"]), PAGE_ROWS)
    return drawn


def cli_checks(tmp):
    demo = os.path.join(CAP, "demo.pcap")
    out = os.path.join(tmp, "c.html")
    for extra in ([], ["-F", "json"], ["--logins"], ["--summary", "-F", "json"]):
        plain = run(extra + [demo])
        both = run(extra + ["--html", out, demo])
        check(both.returncode == 0 and both.stdout == plain.stdout,
              f"--html beside {extra or 'the timeline'} changed it")
        check(os.path.getsize(out) > 10000, f"--html beside {extra}: page not written")
    victim = os.path.join(tmp, "victim")
    open(victim, "w").write("keep")
    link = os.path.join(tmp, "link.html")
    os.symlink(victim, link)
    r = run(["--html", link, demo])
    check(r.returncode == 2 and open(victim).read() == "keep" and b"--html" in r.stderr,
          f"--html through a link: exit {r.returncode}, {r.stderr!r}")
    r = run(["--html", demo, demo])
    check(r.returncode == 2, f"--html onto the input: exit {r.returncode}")
    r = run(["-o", out, "--html", out, demo])
    check(r.returncode == 2, f"--html onto -o's file: exit {r.returncode}")
    r = run(["--html", os.path.join(tmp, "no", "such", "dir.html"), demo])
    check(r.returncode == 2, f"--html into a missing folder: exit {r.returncode}")
    # a budget too small for the pages' ladders still gives a whole page
    small = os.path.join(tmp, "small.html")
    r = run(["--max-memory", "9M", "-q", "--html", small, "-o", "/dev/null",
             os.path.join(CAP, "fetch-large.pcap")])
    if r.returncode == 0:
        _, data = page_parts(small)
        check(data is not None and json.loads(data)["v"] == 1, "--html under a small budget: no page")


def browser_available():
    if SAN:
        return "a sanitizer build (the page is the same; the plain build's run loads it)"
    if not os.path.exists(CHROMIUM) or shutil.which("node") is None:
        return "no chromium or node (apt-get install chromium nodejs)"
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        return "no tests/browser/node_modules (cd tests/browser && npm ci)"
    return None


def main():
    tmp = tempfile.mkdtemp(prefix="imapscope-html-")
    try:
        cli_checks(tmp)
        hostile = os.path.join(tmp, "hostile.pcap")
        make_hostile(hostile)
        many = os.path.join(tmp, "many.pcap")
        make_many(many, 150)
        cases = [
            ("plain", [os.path.join(CAP, "demo.pcap")]),
            ("login-failures", [os.path.join(CAP, "login-failures.pcap")]),
            ("starttls13", ["-k", os.path.join(CAP, "starttls13.keylog"), os.path.join(CAP, "starttls13.pcap")]),
            ("implicit-tls", ["-k", os.path.join(CAP, "implicit-ecdhe.keylog"), os.path.join(CAP, "implicit-ecdhe.pcap")]),
            ("tls-no-keys", [os.path.join(CAP, "starttls12.pcap")]),
            ("compress", [os.path.join(CAP, "compress.pcap")]),
            ("compress-tls", ["-k", os.path.join(CAP, "compress-tls.keylog"), os.path.join(CAP, "compress-tls.pcap")]),
            ("damaged-cut", [os.path.join(CAP, "cut-mid-session.pcap")]),
            ("damaged-loss", [os.path.join(CAP, "loss.pcap")]),
            ("damaged-snaplen", [os.path.join(CAP, "snaplen200.pcap")]),
            ("concurrent", [os.path.join(CAP, "activity-concurrent.pcap")]),
            ("many", [many]),
            ("hostile", [hostile], ["--activity", "--check"]),
            # the sections of --activity and --check
            ("activity", [os.path.join(CAP, "activity.pcap")], ["--activity"]),
            ("activity-uid", [os.path.join(CAP, "activity-uid.pcap")], ["--activity", "-F", "json"]),
            ("check", [os.path.join(CAP, "misbehave-dovecot-strict.pcap")], ["--check"]),
            ("check-activity", [os.path.join(CAP, "misbehave-dovecot-strict.pcap")],
             ["--check", "--activity"]),
        ]
        reports = []
        for name, args, *more in cases:
            flags = more[0] if more else []
            path = os.path.join(tmp, name + ".html")
            r = run(["-q", "-o", "/dev/null", "--html", path] + flags + args)
            check(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr[-300:]!r}")
            if r.returncode != 0:
                continue
            want = expected(args)
            d = check_page(name, path, want)
            drawn = check_sections(name, d, flags, args) if d is not None else {}
            if name == "hostile" and d is not None:
                users = {lg["user"] for lg in d["logins"]}
                check(H_USER in users, f"hostile: the user reads {users}")
                check(any(H_MAILBOX in m for s in d["sessions"] for m in s["mailboxes"]),
                      "hostile: the mailbox is not in the data")
                check(any(r["mailbox"] == H_MAILBOX for r in d["sections"]["activity"]["rows"]),
                      "hostile: the mailbox is not in the activity rows")
                check(any(H_FINDING in (f["line"] or "") for f in d["sections"]["findings"]["rows"]),
                      "hostile: the finding's line is not in the findings rows")
            reports.append(dict(want, name=name, html=path,
                                hostile=[H_MAILBOX, H_USER, "</script><script>window.__pwned=2",
                                         H_FINDING] if name == "hostile" else None,
                                extra_rows=sum(drawn.values()), section_rows=drawn,
                                variance=True,
                                screenshot=None))
        # a further report's section, as output_html_add_section adds one
        plain = next((r for r in reports if r["name"] == "plain"), None)
        if plain is not None:
            text = open(plain["html"], encoding="utf-8").read()
            row = ('[{"session":%d,"mailbox":"\\u003cimg src=x onerror=window.__pwned=4\\u003e"},'
                   '{"session":%d,"mailbox":"INBOX"}]' % (plain["sessions"][0], plain["sessions"][0]))
            check('"activity":null' in text, "plain: no activity key")
            path = os.path.join(tmp, "sections.html")
            open(path, "w", encoding="utf-8").write(text.replace('"activity":null', '"activity":' + row, 1))
            reports.append(dict(plain, name="sections", html=path, extra_rows=2, section_rows={},
                                hostile=["<img src=x onerror=window.__pwned=4>"]))
        why = browser_available()
        if why:
            print(f"test_html: browser part skipped: {why}")
        else:
            shot = os.path.join(tmp, "shot.png")
            for r in reports:
                if r["name"] == "many":
                    r["screenshot"] = shot
            spec = os.path.join(tmp, "spec.json")
            json.dump({"chromium": CHROMIUM, "reports": reports}, open(spec, "w"))
            res = subprocess.run(["node", os.path.join(BROWSER_DIR, "html.test.mjs"), spec],
                                 capture_output=True, text=True, timeout=900, cwd=BROWSER_DIR)
            sys.stdout.write(res.stdout)
            check(res.returncode == 0, f"browser tests failed: {res.stderr[-2000:]}")
            if res.returncode == 0 and os.environ.get("IMAPSCOPE_UPDATE_SCREENSHOT") == "1":
                shutil.copy(shot, os.path.join(REPO, "docs", "html-report.png"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_html: " + ("ok" if failures == 0 else f"{failures} failures"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
