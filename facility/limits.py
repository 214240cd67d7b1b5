"""Every parser limit of the project, in one place, and a JSON loader that keeps to them.

Input from the network or from files a person drops in (bus messages, operator commands,
device profiles, ledger imports) is checked against these limits *before* it is turned into
objects: a recursive parser given 200 KB of ``[`` raises ``RecursionError`` (json) or
segfaults (libyaml), and an alias bomb of 378 bytes expands to gigabytes. Each limit is far
above what the project itself writes (figures beside each), so only hostile or broken input
meets it, and then as one clear error, never a dead thread.

    what                      limit                       the project writes
    bus reading message       1,000,000 bytes, depth 8     ~3 KB, depth 3
    alarm command message     65,536 bytes, depth 4,       ~300 bytes, depth 1
                              2,000 characters a field
    JSON over HTTP            1,000,000 bytes, depth 16    webhook answers, sim control
    device profile (YAML)     1,000,000 bytes, depth 32,   ~7 KB, depth 5, no aliases,
                              100 aliases, 100,000 values  ~1,000 values
    ledger import file        20 MB, 100,000 rows,         ~16 KB, ~60 rows, cells ≤ 60
                              100 columns, 4,000           characters, 22 columns
                              characters a cell

Changing a limit here changes it everywhere; docs/profiles.md and docs/ledger.md quote them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from facility.errors import ProtocolError

# --- the bus ---------------------------------------------------------------------------------

BUS_PAYLOAD_MAX_BYTES = 1_000_000
BUS_PAYLOAD_MAX_DEPTH = 8  # {"points": {"name": {"v": ...}}} is 3

COMMAND_MAX_BYTES = 65_536
COMMAND_MAX_DEPTH = 4  # a command is one flat object
COMMAND_MAX_TEXT = 2_000  # characters of a user, comment, reason, alarm id or request id
COMMAND_MAX_FOR_S = 366 * 86_400  # a shelve longer than a year is a typo (each alarm has less)

# small JSON documents over HTTP: webhook answers, simulator control requests
HTTP_JSON_MAX_BYTES = 1_000_000
HTTP_JSON_MAX_DEPTH = 16

# --- device profiles (YAML) ----------------------------------------------------------------

PROFILE_MAX_BYTES = 1_000_000
PROFILE_MAX_DEPTH = 32  # mappings/lists inside each other; points[i].modbus.range is 5
PROFILE_MAX_ALIASES = 100  # *alias uses per file; anchors may be shared a little
# values (scalars + collections) once aliases are expanded: the "billion laughs" document
# uses only 72 aliases, but they expand to 10^9 values
PROFILE_MAX_VALUES = 100_000

# --- ledger imports (CSV / XLSX) -------------------------------------------------------------

LEDGER_MAX_FILE_BYTES = 20 * 2**20
LEDGER_MAX_ROWS = 100_000
LEDGER_MAX_CELL_CHARS = 4_000
LEDGER_MAX_COLUMNS = 100  # the ledger has 22 columns


class JsonLimitError(ProtocolError):
    """JSON input refused by a limit or not parseable; ``kind`` is a short stable name.

    Kinds: ``too_large``, ``too_deep``, ``bad_json``. Callers that have their own error class
    (``PayloadError``) re-raise with the same kind and message.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_KEEP = b'[]{}"'
_NOT_KEPT = bytes(b for b in range(256) if b not in _KEEP)
_BRACKETS = bytes.maketrans(b"{}", b"[]")


def json_depth_exceeds(data: bytes, max_depth: int) -> bool:
    """Whether JSON text nests arrays/objects deeper than ``max_depth`` (strings ignored).

    Cheap and iterative, on the gateway's hot path (a 3 KB reading message costs a few µs):
    escaped backslashes and quotes are cut, everything but brackets and quotes dropped, the
    strings' contents (between quote pairs) removed — all in C; then each round removes the
    innermost ``[]`` pairs, so a document of depth d is empty after d rounds. Only input that
    is still not empty after ``max_depth`` rounds (too deep, or unbalanced: invalid JSON) is
    walked bracket by bracket, stopping at the first level too deep.
    """
    # In JSON a backslash only starts an escape inside a string: after removing "\\" pairs
    # (left to right, as the escapes are read), a '\"' is an escaped quote, and every other
    # quote opens or closes a string.
    kept = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_KEPT)
    if kept.count(b"[") + kept.count(b"{") <= max_depth:
        return False  # fewer openings than the limit, even counting those inside strings
    # Two adjacent quotes are an empty string, or the end of one string and the start of the
    # next with no bracket between: removing them keeps every bracket outside strings (and
    # the parity of the quotes left). Usually no quote is left after this.
    kept = kept.replace(b'""', b"")
    if b'"' in kept:
        kept = b"".join(kept.split(b'"')[::2])  # drop the pieces inside strings
    original = brackets = kept.translate(_BRACKETS)
    for _ in range(max_depth):
        shorter = brackets.replace(b"[]", b"")
        if not shorter:
            return False
        if len(shorter) == len(brackets):
            break  # unbalanced: no pair left to remove
        brackets = shorter
    depth = 0
    for byte in original:  # each round lowered the depth by one: walk what was written
        depth += 1 if byte == 0x5B else -1  # "["
        if depth > max_depth:
            return True
    return False


def load_json(
    data: bytes,
    *,
    what: str,
    max_bytes: int,
    max_depth: int,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """Parse JSON from untrusted bytes within limits; JsonLimitError naming ``what`` otherwise.

    Size is checked first, then nesting depth (before json.loads builds anything), and a
    ``RecursionError`` from the parser is still caught: nothing but JsonLimitError (or what
    ``parse_constant`` raises) leaves this function.
    """
    if len(data) > max_bytes:
        raise JsonLimitError("too_large", f"{what} is {len(data)} bytes; expected ≤ {max_bytes}")
    if json_depth_exceeds(data, max_depth):
        raise JsonLimitError(
            "too_deep", f"{what} nests arrays/objects deeper than {max_depth} levels"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonLimitError(
            "bad_json", f"{what} is not UTF-8 text (byte {exc.start}); expected UTF-8 JSON"
        ) from None
    try:
        return json.loads(text, parse_constant=parse_constant)
    except json.JSONDecodeError as exc:
        raise JsonLimitError("bad_json", f"{what} is not valid JSON: {exc}") from None
    except ValueError as exc:
        # a number of more than 4,300 digits: Python refuses to convert it (CVE-2020-10735)
        raise JsonLimitError("bad_json", f"{what} has a number too long to read: {exc}") from None
    except RecursionError:
        raise JsonLimitError(
            "too_deep", f"{what} nests arrays/objects too deep to parse; expected ≤ {max_depth}"
        ) from None
