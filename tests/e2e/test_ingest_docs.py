#!/usr/bin/env python3
"""docs/elastic-mapping.json agrees with docs/events.schema.json.

The mapping file holds three Elasticsearch index templates (events: -F json
and --logins -F json lines; summary: --summary -F json lines; activity:
--activity -F json lines) and the ingest
pipelines they name.  Checked:

- it is valid JSON, each template has index_patterns and mappings, and the
  pipeline a template names as its default_pipeline is in the file;
- every key the schema defines at the top level of the line types a
  template covers (its _meta.schema_defs) is mapped, under its own name or
  the one _meta.renamed gives it (the pipeline's rename must say the same);
- each mapped field's type matches the schema's type: ts and other RFC 3339
  strings `date`, IP addresses `ip`, integers `integer`/`long`, numbers
  `double`/`float`/`scaled_float`, strings `keyword`/`text`/`wildcard`,
  booleans `boolean`, objects `object`/`flattened`/`nested`, arrays by the
  type of their items;
- docs/splunk-props.conf has an [imapscope] stanza that reads JSON with ts
  as the time, and docs/ingest.md names both files.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("REPO") or os.path.normpath(os.path.join(HERE, "..", ".."))
failures = []

ES_TYPES = {
    "date": {"date", "date_nanos"},
    "ip": {"ip"},
    "integer": {"integer", "long", "unsigned_long", "short"},
    "number": {"double", "float", "scaled_float", "half_float"},
    "string": {"keyword", "text", "wildcard", "match_only_text", "constant_keyword"},
    "boolean": {"boolean"},
    "object": {"object", "flattened", "nested"},
}
DATE_PATTERN = "^[0-9]{4}-"


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def schema_types(s, defs):
    """The non-null JSON types a sub-schema allows, 'date' and 'ip' for
    the schema's RFC 3339 and address strings; arrays as their items'."""
    if "$ref" in s:
        name = s["$ref"].rsplit("/", 1)[-1]
        if name == "ip":
            return {"ip"}
        return schema_types(defs[name], defs)
    if "const" in s or "enum" in s:
        vals = [s["const"]] if "const" in s else s["enum"]
        out = set()
        for v in vals:
            if v is None:
                continue
            out.add("boolean" if isinstance(v, bool) else "integer" if isinstance(v, int)
                    else "number" if isinstance(v, float) else "string")
        return out
    for k in ("oneOf", "anyOf"):
        if k in s:
            out = set()
            for x in s[k]:
                out |= schema_types(x, defs)
            return out
    t = s.get("type")
    t = [t] if isinstance(t, str) else (t or [])
    out = set()
    for x in t:
        if x == "null":
            continue
        if x == "array":
            out |= schema_types(s.get("items", {}), defs)
        elif x == "string" and s.get("pattern", "").startswith(DATE_PATTERN):
            out.add("date")
        else:
            out.add(x)
    return out


def check_template(name, tpl, pipelines, defs):
    for k in ("index_patterns", "template"):
        if k not in tpl:
            fail(f"{name}: no {k}")
            return
    meta = tpl.get("_meta", {})
    props = tpl["template"].get("mappings", {}).get("properties", {})
    renamed = meta.get("renamed", {})
    pipe = tpl["template"].get("settings", {}).get("index.default_pipeline")
    if pipe is not None and pipe not in pipelines:
        fail(f"{name}: default_pipeline {pipe} is not in the file")
    pipe_text = json.dumps(pipelines.get(pipe, {}))
    for where, new in renamed.items():
        old = where.split(".", 1)[1]
        if old not in pipe_text or new not in pipe_text:
            fail(f"{name}: renamed {where} -> {new}, but pipeline {pipe} does not say so")
    covered = meta.get("schema_defs", [])
    if not covered:
        fail(f"{name}: _meta.schema_defs names no schema definition")
    checked = 0
    for d in covered:
        if d not in defs:
            fail(f"{name}: schema has no definition {d}")
            continue
        for key, sub in defs[d].get("properties", {}).items():
            field = renamed.get(f"{d}.{key}", key)
            if field not in props:
                fail(f"{name}: {d}.{key} is not mapped (as {field})")
                continue
            es = props[field].get("type", "object" if "properties" in props[field] else None)
            want = schema_types(sub, defs)
            ok = set()
            for t in want:
                ok |= ES_TYPES.get(t, set())
            if not want or es not in ok:
                fail(f"{name}: {field} is {es}, the schema's {d}.{key} is {sorted(want)}")
            checked += 1
    return checked


def check_splunk():
    path = os.path.join(REPO, "docs", "splunk-props.conf")
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        fail(f"splunk-props.conf: {e}")
        return
    m = re.search(r"^\[imapscope\]\n((?:(?!\[).*\n?)*)", text, re.M)
    if m is None:
        fail("splunk-props.conf: no [imapscope] stanza")
        return
    body = m.group(1)
    for want in (r"^INDEXED_EXTRACTIONS\s*=\s*json\s*$", r"^TIMESTAMP_FIELDS\s*=\s*ts\s*$",
                 r"^TIME_FORMAT\s*=\s*%Y-%m-%dT%H:%M:%S\.%6N%Z\s*$",
                 r"^SHOULD_LINEMERGE\s*=\s*false\s*$", r"^KV_MODE\s*=\s*none\s*$"):
        if not re.search(want, body, re.M):
            fail(f"splunk-props.conf: [imapscope] lacks {want}")


def main():
    with open(os.path.join(REPO, "docs", "events.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    defs = schema["$defs"]
    try:
        with open(os.path.join(REPO, "docs", "elastic-mapping.json"), encoding="utf-8") as f:
            mapping = json.load(f)
    except ValueError as e:
        print(f"FAIL: elastic-mapping.json is not JSON: {e}")
        return 1
    templates = mapping.get("index_templates", {})
    pipelines = mapping.get("ingest_pipelines", {})
    if not templates:
        fail("elastic-mapping.json: no index_templates")
    checked = 0
    covered = set()
    for name, tpl in templates.items():
        checked += check_template(name, tpl, pipelines, defs) or 0
        covered |= set(tpl.get("_meta", {}).get("schema_defs", []))
    lines = {r["$ref"].rsplit("/", 1)[-1] for r in schema["oneOf"]} | {"login_row"}
    if lines - covered:
        fail(f"line types no template covers: {sorted(lines - covered)}")
    check_splunk()
    doc = open(os.path.join(REPO, "docs", "ingest.md"), encoding="utf-8").read()
    for f in ("elastic-mapping.json", "splunk-props.conf"):
        if f not in doc:
            fail(f"docs/ingest.md does not name {f}")
    print(f"test_ingest_docs: {len(templates)} templates, {checked} schema keys checked, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
