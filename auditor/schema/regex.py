"""Python `re` patterns translated to DuckDB's RE2, or None when RE2 would not mean the same.

pandera's `str_matches` / `str_contains` run Python's `re` (`re.match` / `re.search`).
DuckDB runs RE2, which differs: `\\d`, `\\w` and `\\s` are ASCII-only there but Unicode
in Python; `$` in Python also matches before a final newline; RE2 has no lookarounds,
backreferences, atomic groups or possessive quantifiers; `{,n}` is a literal in RE2.
Where a faithful rewrite exists we rewrite; otherwise we return None and the caller
runs the check through pandera itself on streamed chunks.
"""

from __future__ import annotations

import re

from auditor.engine.duckdb_engine import regex_accepted_by_re2

# Python's `\d` on str is Unicode category Nd; `\w` is str.isalnum() plus "_"; `\s` is str.isspace().
_DIGIT = r"\p{Nd}"
_WORD = r"\p{L}\p{N}_"
_SPACE = (r"\t\n\x{0b}\f\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
          r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}")
_CLASS_ESCAPES = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_SUPPORTED_FLAGS = set("ims")
_QUANTIFIER_END = set("*+?}")
_FLAG_PREFIX = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int] | None:
    """Translate the escape at pattern[i] (a backslash); return (text, next index) or None."""
    if i + 1 >= len(pattern):
        return None
    ch = pattern[i + 1]
    if ch in _CLASS_ESCAPES:
        body = _CLASS_ESCAPES[ch]
        return (body if in_class else f"[{body}]"), i + 2
    if ch in "DWS":
        if in_class:  # a negated class inside a class has no RE2 spelling
            return None
        return f"[^{_CLASS_ESCAPES[ch.lower()]}]", i + 2
    if ch in "bB":
        if in_class and ch == "b":
            return r"\x{08}", i + 2
        return None  # Unicode word boundaries: RE2's are ASCII
    if ch == "Z":
        return r"\z", i + 2
    if ch.isdigit() or ch in "Ngz":  # backreferences, octal, named characters
        return None
    if ch == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", pattern[i + 2:i + 6]):
        return r"\x{" + pattern[i + 2:i + 6] + "}", i + 6
    if ch == "U" and re.fullmatch(r"[0-9a-fA-F]{8}", pattern[i + 2:i + 10]):
        return r"\x{" + pattern[i + 2:i + 10] + "}", i + 10
    return pattern[i:i + 2], i + 2


def _group_open(pattern: str, i: int) -> tuple[str, int] | None:
    """Translate a `(` at pattern[i]; None for constructs RE2 lacks."""
    if not pattern.startswith("(?", i):
        return "(", i + 1
    rest = pattern[i + 2:]
    if rest.startswith((":", "P<")):
        return "(?", i + 2
    flags = re.match(r"([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])", rest)
    if flags and set(flags.group(1) + (flags.group(2) or "")) <= _SUPPORTED_FLAGS:
        return "(?", i + 2
    return None  # lookarounds, (?P=name), atomic groups, conditionals, comments, x/a/u/L flags


def _dollar_is_final(pattern: str, i: int, depth: int) -> bool:
    """`$` consuming an optional final newline is equivalent only when nothing can follow it."""
    rest = pattern[i + 1:]
    return rest.strip(")") == "" or (depth == 0 and rest.startswith("|"))


def translate(pattern: str | re.Pattern) -> str | None:
    """The RE2 spelling of a Python regex with the same matches, or None if there is none we trust."""
    flags = ""
    if isinstance(pattern, re.Pattern):
        extra = pattern.flags & ~re.UNICODE & ~sum(_FLAG_PREFIX)
        if extra:
            return None
        flags = "".join(f for flag, f in _FLAG_PREFIX.items() if pattern.flags & flag)
        pattern = pattern.pattern
    multiline = "m" in flags or bool(re.match(r"\(\?[a-z]*m[a-z]*\)", pattern))
    out: list[str] = [f"(?{flags})"] if flags else []
    i, depth, in_class = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            step = _escape(pattern, i, in_class)
            if step is None:
                return None
            text, i = step
            out.append(text)
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(pattern[i:i + 2] if pattern.startswith("[^", i) else "[")
            i += 2 if pattern.startswith("[^", i) else 1
            if i < len(pattern) and pattern[i] == "]":  # a literal ] first in a class
                out.append(r"\]")
                i += 1
            continue
        if ch == "(":
            step = _group_open(pattern, i)
            if step is None:
                return None
            depth += 1
            out.append(step[0])
            i = step[1]
            continue
        if ch == ")":
            depth -= 1
        elif ch == "$" and not multiline:
            if not _dollar_is_final(pattern, i, depth):
                return None
            out.append(r"(?:\n?\z)")
            i += 1
            continue
        elif ch == "{" and pattern.startswith("{,", i):
            out.append("{0,")
            i += 2
            continue
        elif ch == "+" and i > 0 and pattern[i - 1] in _QUANTIFIER_END and (i < 2 or pattern[i - 2] != "\\"):
            return None  # possessive quantifier (Python 3.11+)
        out.append(ch)
        i += 1
    translated = "".join(out)
    return translated if regex_accepted_by_re2(translated) else None
