"""The third-party captures ($PUBLIC) are optional: a clone with nothing
beside it runs every test on captures/ and skips, in one line each, the
parts that need them."""
import glob
import os

HOW = "set PUBLIC=DIR or put ../shared/captures/public beside the clone"


def public_dir():
    """The public captures' folder, or None when it holds no capture."""
    d = os.environ.get("PUBLIC")
    if d is None:
        repo = os.environ.get("REPO") or os.path.join(os.path.dirname(__file__), "..", "..")
        d = os.path.join(repo, "..", "shared", "captures", "public")
    return d if glob.glob(os.path.join(d, "*.pcap*")) else None


def skip(what):
    print("skip: %s: no public captures (%s)" % (what, HOW))
