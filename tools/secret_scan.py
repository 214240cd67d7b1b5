"""Fail when a tracked file holds something that looks like a secret (``make check``).

    python tools/secret_scan.py                 scan every file ``git ls-files`` lists
    python tools/secret_scan.py --root DIR      the same for another checkout
    python tools/secret_scan.py FILE...         scan these files only

Prints ``file:line: rule: what`` for each finding (the secret itself is never printed, only
its first characters) and exits 1 if there is any, 0 if none, 2 if the allow-list is bad.

Rules (each has a positive and a negative case in tests/unit/test_secret_scan.py):

- ``private-key``: a ``-----BEGIN ... PRIVATE KEY-----`` block;
- ``url-credentials``: ``scheme://user:password@`` with a literal password;
- ``secret-assignment``: ``password = "..."``, ``token: "..."``, ``"secret": "..."``,
  ``api_key=...`` with a literal value that is not a placeholder (``${VAR}``, ``<token>``,
  ``changeme``...);
- ``token-shape``: well-known token formats (AWS ``AKIA...``, GitHub ``ghp_...``/``github_pat_``,
  Slack ``xox.-``, Google ``AIza...``, Stripe ``sk_live_``);
- ``high-entropy``: a long random-looking string assigned to a key/auth/credential/signature-like
  name (random strings with innocent names, hashes in lock files, stay quiet).

Deliberately fake values (test fixtures) go into ``.secret-scan-allow``, one entry a line,
each with a reason after `` # `` (an entry without a reason is refused):

    tests/x.py:3f2a9c1e0b7d      # fake password of the login test (line hash: survives moves)
    tests/fixtures/*.pem:re:.*   # throw-away test CA, generated for the tests

``path:HASH`` allows one line of one file, whatever its line number; HASH is the first 12 hex
digits of the SHA-256 of the line with surrounding spaces stripped (each finding prints it).
``glob:re:REGEX`` allows the lines matching REGEX in the files matching the glob.

Why our own rules and not detect-secrets (PyPI): a hundred lines that we read and test, with
no dependency in ``make check`` and an allow-list a reviewer reads line by line with its
reason; detect-secrets' baseline is a generated JSON of hashes without reasons, and its
generic entropy plugins flag every hash and test vector in the tree. Switch if these rules
start missing things that matter.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import math
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ALLOW_FILE = ".secret-scan-allow"
MAX_FILE_BYTES = 2 * 1024 * 1024  # larger tracked files are data, not config or code
HASH_DIGITS = 12

# Values that stand for a secret without being one.
_PLACEHOLDER = re.compile(
    r"""^(
        \$\{?[A-Za-z_][A-Za-z0-9_]*\}?      # $VAR, ${VAR}
      | \{\{?.*\}\}?                        # {password}, {{ token }} (format/template fields)
      | <[^>]*>                             # <password>
      | %[sr]|%\([a-z_]+\)s                 # %s, %(password)s
      | [*xX.#?-]+                          # ***, xxxx, ..., ----
      | (?i:changeme|change[-_]me|example|placeholder|redacted|secret|password|passwd|token
           |your[-_a-z]*|dummy|none|null|undefined|todo|fixme|hidden|masked)
    )$""",
    re.VERBOSE,
)
_SECRET_NAME = r"[A-Za-z0-9_.-]*(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key)"
_ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?P<name>\b{_SECRET_NAME})["']?     # password, db_password, "api_key", access_token
    \s*(?::=|=|:)\s*                    # = or : (YAML, JSON, TOML, Python kwargs)
    (?P<q>["'])(?P<value>[^"'\s]{{4,}})(?P=q)
    """
)
_UNQUOTED_YAML = re.compile(
    rf"""(?ix)^\s*-?\s*(?P<name>{_SECRET_NAME})\s*:\s+(?P<value>[^\s"'#{{\[&*|>!][^\s#]{{3,}})\s*(?:\#.*)?$"""
)
_URL_CREDENTIALS = re.compile(
    r"""(?i)\b[a-z][a-z0-9+.-]*://(?P<user>[^\s:/@'"<>{}]+):(?P<value>[^\s@/'"<>]+)@"""
)
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_TOKEN_SHAPES = (
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("GitHub fine-grained token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{16,}\b")),
)
_ENTROPY_NAME = (
    r"[A-Za-z0-9_.-]*(?:key|auth|credential|cred|sign|signature|salt|cookie|session|private)"
)
_HIGH_ENTROPY = re.compile(
    rf"""(?ix)
    (?P<name>\b{_ENTROPY_NAME})["']?\s*(?::=|=|:)\s*
    (?P<q>["'])(?P<value>[A-Za-z0-9+/=_-]{{20,}})(?P=q)
    """
)
CONFIG_SUFFIXES = frozenset({".yaml", ".yml", ".ini", ".cfg", ".conf", ".env", ".properties"})
ENTROPY_BITS = 3.5  # per character; English-like identifiers stay under, keys above


@dataclass(frozen=True, slots=True)
class Finding:
    """One suspicious line: where, which rule, what (the secret shown only by its start)."""

    path: str
    line_no: int
    rule: str
    what: str
    line_hash: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line_no}: {self.rule}: {self.what} "
            f"(if fake, allow with '{self.path}:{self.line_hash}  # reason')"
        )


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One line of the allow-list: a line hash of one file, or a regex over files of a glob."""

    glob: str
    line_hash: str | None
    pattern: re.Pattern[str] | None
    reason: str

    def allows(self, finding: Finding, line: str) -> bool:
        if not fnmatch.fnmatchcase(finding.path, self.glob):
            return False
        if self.line_hash is not None:
            return finding.line_hash == self.line_hash
        assert self.pattern is not None
        return self.pattern.search(line) is not None


class AllowListError(ValueError):
    """The allow-list has a line that is not an entry with a reason."""


def line_hash(line: str) -> str:
    """The hash that names a line in the allow-list, independent of its position."""
    return hashlib.sha256(line.strip().encode()).hexdigest()[:HASH_DIGITS]


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _random_looking(value: str) -> bool:
    # identifiers (letters and underscores) can reach 3.5 bits too; keys have digits
    has_digit = any(c.isdigit() for c in value)
    return has_digit and any(c.isalpha() for c in value) and entropy(value) >= ENTROPY_BITS


def _show(value: str) -> str:
    # enough to find it, not enough to use it
    return f"{value[:4]}… ({len(value)} chars)"


def is_placeholder(value: str) -> bool:
    """True for a value that stands for a secret (``${VAR}``, ``<token>``, ``changeme``)."""
    return _PLACEHOLDER.match(value) is not None


def scan_line(line: str, *, config_file: bool = False) -> Iterator[tuple[str, str]]:
    """(rule, what) for each secret-looking thing on one line; the pure core of the scanner.

    ``config_file``: the line is YAML/INI/.env-like, where a value need not be quoted (in code,
    ``token: AckToken`` is a type annotation, not a secret).
    """
    if _PRIVATE_KEY.search(line):
        yield "private-key", "a private key block"
    for match in _URL_CREDENTIALS.finditer(line):
        if not is_placeholder(match["value"]):
            yield "url-credentials", f"password in a URL for user {match['user']!r}"
    for label, shape in _TOKEN_SHAPES:
        for match in shape.finditer(line):
            yield "token-shape", f"{label} {_show(match[0])}"
    seen: set[str] = set()
    for regex in (_ASSIGNMENT, _UNQUOTED_YAML) if config_file else (_ASSIGNMENT,):
        for match in regex.finditer(line):
            value = match["value"]
            if value in seen or is_placeholder(value):
                continue
            seen.add(value)
            yield "secret-assignment", f"{match['name']} = {_show(value)}"
    for match in _HIGH_ENTROPY.finditer(line):
        value = match["value"]
        if value not in seen and _random_looking(value):
            yield "high-entropy", f"{match['name']} = {_show(value)}"


def scan_text(path: str, text: str) -> Iterator[Finding]:
    """Every finding of one file's text."""
    config_file = Path(path).suffix.lower() in CONFIG_SUFFIXES or Path(path).name.startswith(".env")
    for line_no, line in enumerate(text.splitlines(), start=1):
        for rule, what in scan_line(line, config_file=config_file):
            yield Finding(path, line_no, rule, what, line_hash(line))


def parse_allow(text: str, source: str = ALLOW_FILE) -> list[AllowEntry]:
    """The entries of an allow-list; AllowListError naming the line if one is malformed."""
    entries = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry, sep, reason = line.partition(" # ")
        entry, reason = entry.strip(), reason.strip()
        if not sep or not reason:
            raise AllowListError(f"{source}:{line_no}: expected 'ENTRY  # reason', got {line!r}")
        glob, sep, rest = entry.partition(":")
        if not sep or not glob or not rest:
            raise AllowListError(
                f"{source}:{line_no}: expected 'path:HASH' or 'glob:re:REGEX', got {entry!r}"
            )
        if rest.startswith("re:"):
            try:
                pattern = re.compile(rest[3:])
            except re.error as exc:
                raise AllowListError(f"{source}:{line_no}: bad regex {rest[3:]!r}: {exc}") from None
            entries.append(AllowEntry(glob, None, pattern, reason))
        elif re.fullmatch(rf"[0-9a-f]{{{HASH_DIGITS}}}", rest):
            entries.append(AllowEntry(glob, rest, None, reason))
        else:
            raise AllowListError(
                f"{source}:{line_no}: expected {HASH_DIGITS} hex digits or re:REGEX after "
                f"'{glob}:', got {rest!r}"
            )
    return entries


def tracked_files(root: Path) -> list[str]:
    """Paths (relative to ``root``) of the files git tracks there (but the allow-list itself,
    whose patterns describe the fakes they allow)."""
    out = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"], check=True, capture_output=True
    ).stdout
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p and p != ALLOW_FILE]


def scan_files(root: Path, paths: Iterable[str], allow: list[AllowEntry]) -> list[Finding]:
    """Findings in ``paths`` (relative to ``root``) not covered by ``allow``."""
    findings = []
    for rel in paths:
        file = root / rel
        try:
            if not file.is_file() or file.stat().st_size > MAX_FILE_BYTES:
                continue
            data = file.read_bytes()
        except OSError:
            continue  # listed by git but gone from the work tree: nothing to scan
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", "replace")
        lines = text.splitlines()
        for finding in scan_text(rel, text):
            line = lines[finding.line_no - 1]
            if not any(entry.allows(finding, line) for entry in allow):
                findings.append(finding)
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("files", nargs="*", help="files to scan (default: git ls-files)")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--allow", type=Path, help=f"allow-list (default: ROOT/{ALLOW_FILE})")
    args = parser.parse_args(argv)
    root: Path = args.root
    allow_path: Path = args.allow or root / ALLOW_FILE
    try:
        text = allow_path.read_text(encoding="utf-8") if allow_path.exists() else ""
        allow = parse_allow(text, str(allow_path))
    except AllowListError as exc:
        print(f"secret scan: {exc}", file=sys.stderr)
        return 2
    paths = args.files or tracked_files(root)
    findings = scan_files(root, paths, allow)
    for finding in findings:
        print(finding)
    if findings:
        print(f"secret scan: {len(findings)} finding(s) in {len(paths)} files", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
