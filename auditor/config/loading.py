"""Reading audit.yaml: YAML to the models of auditor.config.models, every problem one line.

`load_config(path)` reads and validates the file; every problem becomes one `ConfigError` line
naming the file, the key path, what is wrong and, for a typo, the closest valid key. The options
of each check are validated against the check's own declaration by auditor.audit.configure.
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any, Union

import pydantic
import yaml
from pydantic import BaseModel

from auditor.config.models import AuditConfig
from auditor.errors import ConfigError


def closest(word: str, candidates: typing.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.5)
    return matches[0] if matches else None


def _unwrap(annotation: Any) -> Any:
    """Optional[X] / X | None -> X."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _valid_keys(loc: tuple, root: type[BaseModel]) -> list[str]:
    """The keys allowed at a location of a model, for 'did you mean' hints."""
    model: Any = root
    for part in loc:
        model = _unwrap(model)
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return []
            model = field.annotation
        elif typing.get_origin(model) in (list, dict):
            model = typing.get_args(model)[-1]
    model = _unwrap(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items() if n not in ("base_dir", "path")]
    return []


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_error(err: dict[str, Any], *, root: type[BaseModel] = AuditConfig, prefix: tuple = ()) -> str:
    """One pydantic error as `key.path: what is wrong`; `root` is the model validated, `prefix` where it
    sits in the config (a check's options sit at `checks.<id>`)."""
    inner = tuple(p for p in err["loc"] if not _union_tag(p))
    loc = (*prefix, *inner)
    where = _format_loc(loc)
    if err["type"] == "extra_forbidden":
        valid = _valid_keys(inner[:-1], root)
        hint = closest(str(inner[-1]), valid)
        if prefix:  # a check's option: name the option alone, or list them
            suggestion = f" (did you mean '{hint}'?)" if hint else f"; options are {', '.join(valid)}"
            return f"{where}: unknown option{suggestion}"
        parent = _format_loc(loc[:-1])
        suggestion = f" (did you mean '{parent + '.' if loc[:-1] else ''}{hint}'?)" if hint else ""
        return f"{where}: unknown key{suggestion}"
    if err["type"] == "missing":
        return f"{where}: required key is missing"
    if err["type"] == "string_pattern_mismatch" and loc[-1] == "window":
        return f"{where}: {err.get('input')!r} is not a window; use a count and a unit, like 1h, 1d or 1w"
    message = err["msg"].removeprefix("Value error, ").replace("Input should be ", "must be ")
    message = message.replace("a valid number, unable to parse string as a number", "a number")
    value = err.get("input")
    if err["type"] != "value_error" and isinstance(value, (str, int, float, bool)) or value is None and "input" in err:
        return f"{where}: {message}, got {value!r}"
    return f"{where}: {message}"


def _union_tag(part: Any) -> bool:
    """pydantic names the member of a union an error came from (`str`, `list[literal['a','b']]`,
    `function-after[...]`) inside the location: not a key of the config."""
    return isinstance(part, str) and (part.startswith("function-") or "[" in part
                                      or part in ("str", "int", "float", "bool", "none", "dict", "list"))


def parse_config(data: Any, *, source: str, base_dir: Path, path: Path | None = None) -> AuditConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping with at least 'datasets'")
    try:
        config = AuditConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        # A typo'd key explains the "missing" errors that come with it: report it first.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise ConfigError(f"{source}: {one_line(errors)}") from None
    return config.model_copy(update={"base_dir": base_dir, "path": path})


def one_line(errors: list[dict[str, Any]], **where: Any) -> str:
    """The first problem, and how many more there are (a union's members failing alike count once)."""
    keys = {tuple(p for p in e["loc"] if not _union_tag(p) and not isinstance(p, int)) for e in errors}
    more = len(keys) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return describe_error(errors[0], **where) + tail


def read_config(path: str | Path) -> AuditConfig:
    """Read audit.yaml and validate its structure (check options: auditor.audit.configure.load_config)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    return parse_config(data, source=str(path), base_dir=path.resolve().parent, path=path)
