#!/usr/bin/env python3
"""The documentation tells the truth about the repository.

1. Every README example that starts with `$ imapscope ...` is what
   imapscope prints (stdout, then stderr), timestamps included.  A line
   that is only `...` stands for any run of lines (none or more); every
   other line must match whole.  The `make demo` block
   (`$ imapscope captures/demo.pcap`) must exist and shows the whole
   output.  Examples on `../shared/captures/public/` run against $PUBLIC,
   and are skipped in one line without it.
2. Every file a source, header, doc or the README cites as `NAME.md` exists
   in the repository (relative to the root or to the citing file).  Paths
   that leave the repository (`../shared/...`) are not checked."""
import difflib
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from public import public_dir, skip  # noqa: E402

IMAPSCOPE = os.environ["IMAPSCOPE"]
REPO = os.environ.get("REPO") or os.path.join(os.path.dirname(__file__), "..", "..")
DEMO_CMD = "$ imapscope captures/demo.pcap"
PUBLIC_PREFIX = "../shared/captures/public/"
ELIDED = "..."
CITING = ["src", "include", "docs", "README.md"]
CITATION = re.compile(r"(?<![\w./-])((?:\.\./|[\w-]+/)*[\w.-]+\.md)\b")


def readme_block(readme, command):
    """The lines of the fenced block after `command`, or None."""
    lines = open(readme, encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        if line == command and i > 0 and lines[i - 1].startswith("```"):
            block = []
            for rest in lines[i + 1:]:
                if rest.startswith("```"):
                    return block
                block.append(rest)
    return None


def matches(want, got):
    """want (with `...` lines) against got, line by line."""
    chunks, cur = [], []
    for line in want:
        if line == ELIDED:
            chunks.append(cur)
            cur = []
        else:
            cur.append(line)
    chunks.append(cur)
    if len(chunks) == 1:
        return want == got
    first, last = chunks[0], chunks[-1]
    if got[:len(first)] != first or (last and got[len(got) - len(last):] != last):
        return False
    pos, end = len(first), len(got) - len(last)
    if pos > end:
        return False
    for chunk in chunks[1:-1]:
        for start in range(pos, end - len(chunk) + 1):
            if got[start:start + len(chunk)] == chunk:
                pos = start + len(chunk)
                break
        else:
            return False
    return True


def readme_examples(readme):
    """(command line, block lines) for every fenced block that starts with
    `$ imapscope `."""
    lines = open(readme, encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("$ imapscope ") and i > 0 and lines[i - 1].startswith("```"):
            yield line, readme_block(readme, line)


def check_example(command, want):
    args = shlex.split(command[2:])[1:]
    if any(a.startswith(PUBLIC_PREFIX) for a in args):
        pub = public_dir()
        if pub is None:
            skip("README example %r" % command)
            return 0
        args = [os.path.join(pub, a[len(PUBLIC_PREFIX):]) if a.startswith(PUBLIC_PREFIX) else a
                for a in args]
    r = subprocess.run([IMAPSCOPE, *args], cwd=REPO, capture_output=True)
    got = (r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")).splitlines()
    if r.returncode == 0 and matches(want, got):
        print("ok   README: %s (%d lines)" % (command, len(got)))
        return 0
    print("FAIL: README.md's %r block differs from the real output (exit %d); paste"
          " the output there (`...` lines may stand for runs of lines):" % (command, r.returncode))
    for line in difflib.unified_diff(want, got, "README.md", "imapscope", lineterm="", n=1):
        print("  " + line[:200])
    return 1


def check_examples():
    readme = os.path.join(REPO, "README.md")
    if readme_block(readme, DEMO_CMD) is None:
        print("FAIL: README.md has no ``` block starting with %r" % DEMO_CMD)
        return 1
    rc = 0
    for command, want in readme_examples(readme):
        rc |= check_example(command, want)
    return rc


def cited_files():
    for top in CITING:
        path = os.path.join(REPO, top)
        if os.path.isfile(path):
            yield path
            continue
        for d, _, files in os.walk(path):
            for f in sorted(files):
                yield os.path.join(d, f)


def check_citations():
    bad = n = 0
    for path in cited_files():
        text = open(path, encoding="utf-8", errors="replace").read()
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in CITATION.finditer(line):
                name = m.group(1)
                if name.startswith("../"):
                    continue	# outside the repository, said so by its path
                n += 1
                here = os.path.join(os.path.dirname(path), name)
                if not os.path.exists(os.path.join(REPO, name)) and not os.path.exists(here):
                    bad += 1
                    print("FAIL: %s:%d cites %s, which is not in the repository"
                          % (os.path.relpath(path, REPO), lineno, name))
    print("citations: %d checked, %d missing" % (n, bad))
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(check_examples() | check_citations())
