#!/usr/bin/env python3
"""Independent verifier of an Annal event log (Python 3 standard library only).

    python3 verify_log.py <data-dir>/annal.db     # the SQLite log itself
    python3 verify_log.py export.jsonl            # `annal audit export --out export.jsonl`
    python3 verify_log.py -                       # JSONL on standard input

Prints `valid N` and exits 0 when all N rows link (with --head, also `head N <hash>`), or prints
`broken at seq K: expected ... found ...` and exits 1 at the first row that does not.
Exit 2 means the input could not be read at all.

It shares no code with Annal: the canonical JSON (RFC 8785) and the chain are implemented
here from the specification in docs/event-log.md:

    hash = hex(sha256(utf8("annal/v1\\n" + C([seq, id, stream, version, type, actor, at, data, meta])
                           + "\\n" + prev_hash)))

with prev_hash of the first row = 64 zeros.
"""

import hashlib
import json
import math
import pathlib
import sqlite3
import sys

GENESIS_HASH = "0" * 64
PREFIX = "annal/v1\n"
COLUMNS = ("seq", "id", "stream", "version", "type", "actor", "at", "data", "meta", "prev_hash", "hash")
SQLITE_MAGIC = b"SQLite format 3\x00"


class NotJson(Exception):
    """A value that has no canonical JSON form (NaN, Infinity, a non-JSON type)."""


# ---------------------------------------------------------------------------------------------
# RFC 8785 canonical JSON, producing exactly what JavaScript's JSON.stringify would print.
# ---------------------------------------------------------------------------------------------

def js_number(value):
    """A number as ECMAScript Number::toString prints it (ECMA-262, Number::toString(x), radix 10).

    Every JSON number is an IEEE-754 double in JavaScript, so integers are converted to a double
    first (2**53 + 1 prints as 9007199254740992, as it would after JSON.parse).
    """
    try:
        x = float(value)
    except OverflowError:
        raise NotJson("number out of range") from None
    if math.isnan(x) or math.isinf(x):
        raise NotJson("NaN and Infinity have no JSON form")
    if x == 0:
        return "0"  # also -0
    if x < 0:
        return "-" + js_number(-x)
    # repr() gives the shortest digit string that round-trips, nearest to x (ties to even),
    # which is the s, k, n that ECMA-262 asks for. Only its layout differs from JavaScript's.
    text = repr(x)
    mantissa, _, exp = text.partition("e")
    exponent = int(exp) if exp else 0
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    exponent += len(whole)  # value = 0.digits * 10**exponent
    stripped = digits.lstrip("0")
    exponent -= len(digits) - len(stripped)
    s = stripped.rstrip("0")
    k = len(s)
    n = exponent  # value = s * 10**(n - k), 10**(k-1) <= s < 10**k
    if k <= n <= 21:
        return s + "0" * (n - k)
    if 0 < n <= 21:
        return s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + s
    e = n - 1
    sign = "+" if e >= 0 else "-"
    if k == 1:
        return s + "e" + sign + str(abs(e))
    return s[0] + "." + s[1:] + "e" + sign + str(abs(e))


_ESCAPES = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}


def js_string(value):
    """A string as JSON.stringify quotes it (ECMA-262 QuoteJSONString).

    Only ", \\ and the control characters below U+0020 are escaped (\\b \\f \\n \\r \\t by name,
    the rest as \\u00xx in lowercase hex); lone surrogates (U+D800..U+DFFF, which Python keeps as
    code points after json.loads) become \\udxxx; everything else is written as itself.
    """
    out = ['"']
    for ch in value:
        c = ord(ch)
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif c < 0x20 or 0xD800 <= c <= 0xDFFF:
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16_key(key):
    # Ordering by UTF-16 code units == ordering the UTF-16BE bytes ("surrogatepass" keeps lone
    # surrogates sortable instead of raising).
    return key.encode("utf-16-be", "surrogatepass")


def canonical(value):
    """RFC 8785 canonical JSON text of a parsed JSON value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value.keys(), key=_utf16_key)
        return "{" + ",".join(js_string(k) + ":" + canonical(value[k]) for k in keys) + "}"
    raise NotJson("%s has no JSON form" % type(value).__name__)


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def parse_json(text):
    """JSON.parse: every number becomes a double, NaN/Infinity literals are rejected."""
    return json.loads(text, parse_int=float, parse_constant=_reject_constant)


# ---------------------------------------------------------------------------------------------
# The chain
# ---------------------------------------------------------------------------------------------

def row_hash(row, data, meta, prev_hash):
    fields = [row["seq"], row["id"], row["stream"], row["version"], row["type"], row["actor"], row["at"], data, meta]
    preimage = PREFIX + canonical(fields) + "\n" + prev_hash
    return hashlib.sha256(preimage.encode("utf-8")).hexdigest()


def check_row(row, position, prev_hash):
    """The first check that fails for this row, as (expected, found), or None when it links.

    Same order as checkRow in store/src/Chain.ts: link, then position, then contents.
    """
    if row["prev_hash"] != prev_hash:
        return (prev_hash, row["prev_hash"])
    if row["seq"] != position:
        return ("seq %d" % position, "seq %s" % (row["seq"],))
    try:
        data = parse_json(row["data"]) if isinstance(row["data"], str) else row["data"]
        meta = parse_json(row["meta"]) if isinstance(row["meta"], str) else row["meta"]
        expected = row_hash(row, data, meta, prev_hash)
    except (ValueError, NotJson, TypeError):
        return ("JSON data and meta", "unparseable JSON")
    if expected != row["hash"]:
        return (expected, row["hash"])
    return None


def verify(rows):
    """Walks the rows in order and stops at the first break.

    Returns (count, None, head_hash) when every row links, or
    (position, (seq, expected, found), None) at the first row that does not.
    """
    prev = GENESIS_HASH
    position = 0
    for row in rows:
        position += 1
        broken = check_row(row, position, prev)
        if broken is not None:
            return position, (position,) + broken, None
        prev = row["hash"]
    return position, None, prev


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------

def _strip_prefix(h):
    # /api/audit shows hashes as "sha256:<hex>"; the table and the export hold the bare hex.
    if isinstance(h, str) and h.startswith("sha256:"):
        return h[len("sha256:"):]
    return h


def sqlite_rows(path):
    conn = sqlite3.connect(pathlib.Path(path).absolute().as_uri() + "?mode=ro", uri=True)
    try:
        # The writer only stores valid UTF-8; bytes that are not (an edit) decode as U+FFFD, as
        # they would in Node, and then fail the hash instead of stopping the walk.
        conn.text_factory = lambda b: b.decode("utf-8", "replace")
        conn.row_factory = sqlite3.Row
        for r in conn.execute("SELECT * FROM events ORDER BY seq"):
            yield {c: r[c] for c in COLUMNS}
    finally:
        conn.close()


def jsonl_rows(stream):
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            obj = parse_json(line)
        except ValueError as e:
            raise SystemExit("line %d is not JSON: %s" % (number, e))
        if not isinstance(obj, dict):
            raise SystemExit("line %d is not a JSON object" % number)
        missing = [c for c in COLUMNS if c not in obj]
        if missing:
            raise SystemExit("line %d lacks %s" % (number, ", ".join(missing)))
        row = {c: obj[c] for c in COLUMNS}
        # JSON numbers were parsed as doubles; seq and version compare as integers.
        for c in ("seq", "version"):
            if isinstance(row[c], float) and row[c].is_integer():
                row[c] = int(row[c])
        row["prev_hash"] = _strip_prefix(row["prev_hash"])
        row["hash"] = _strip_prefix(row["hash"])
        yield row


def is_sqlite(path):
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def main(argv):
    args = argv[1:]
    show_head = "--head" in args
    args = [a for a in args if a != "--head"]
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: verify_log.py [--head] <annal.db | export.jsonl | ->", file=sys.stderr)
        return 2
    path = args[0]
    try:
        if path == "-":
            count, broken, head = verify(jsonl_rows(sys.stdin))
        elif is_sqlite(path):
            count, broken, head = verify(sqlite_rows(path))
        else:
            with open(path, "r", encoding="utf-8") as f:
                count, broken, head = verify(jsonl_rows(f))
    except (OSError, sqlite3.Error, UnicodeDecodeError, IndexError) as e:
        print("cannot read %s: %s" % (path, e), file=sys.stderr)
        return 2
    if broken is None:
        print("valid %d" % count)
        if show_head:
            # Record this line somewhere else: a later copy of the log must contain this row.
            print("head %d %s" % (count, head))
        return 0
    seq, expected, found = broken
    print("broken at seq %d: expected %s found %s" % (seq, expected, found))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
