"""A whole config, validated before any data is read: its structure (auditor.config) and every check's
options against the check's own declaration (auditor.audit.options).

`load_config(path)` and `config_from_dict(data, base_dir=...)` are the public ways in; both raise a
one-line `ConfigError` (exit 2) naming the key path, e.g.

    audit.yaml: checks.data.null_rate.warn: Input should be a valid number, unable to parse string as a number

`config_json_schema()` is the JSON Schema of audit.yaml with every check's options in it, which
`auditor config-schema` prints and docs/configuration.md is generated from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic

from auditor.audit.options import CheckOptions
from auditor.checks import catalogue
from auditor.config import AuditConfig, closest, one_line, parse_config, read_config
from auditor.errors import ConfigError

# Options that were per check and are now one setting for the whole audit: where they went.
MOVED_OPTIONS = {"decision_threshold": "target.decision_threshold"}


def validate_check_options(config: AuditConfig) -> dict[str, CheckOptions]:
    """Every registered check's options: the config's `checks:` entry validated by the check's
    options class, or its defaults. Unknown check ids are errors with the closest valid id."""
    source = str(config.path) if config.path else "config"
    specs = {spec.id: spec for spec in catalogue()}
    for check_id in config.checks:
        if check_id not in specs:
            hint = closest(check_id, specs)
            suggestion = f" (did you mean '{hint}'?)" if hint else "; `auditor checks` lists them"
            raise ConfigError(f"{source}: checks.{check_id}: unknown check{suggestion}")
    for check_id, options in config.checks.items():
        for key, moved in MOVED_OPTIONS.items():
            if key in options:
                raise ConfigError(f"{source}: checks.{check_id}.{key}: moved to {moved}, one rule for every check")
    validated = {}
    for check_id, spec in specs.items():
        try:
            validated[check_id] = spec.options.model_validate(config.checks.get(check_id, {}))
        except pydantic.ValidationError as exc:
            raise ConfigError(f"{source}: {one_line(exc.errors(), root=spec.options, prefix=('checks', check_id))}"
                              ) from None
    return validated


def load_config(path: str | Path) -> AuditConfig:
    """Read and validate audit.yaml, check options included."""
    config = read_config(path)
    validate_check_options(config)
    return config


def config_from_dict(data: dict[str, Any], *, base_dir: str | Path = ".") -> AuditConfig:
    """A config given as a mapping (a notebook, an orchestrator); relative paths resolve against base_dir."""
    config = parse_config(data, source="config", base_dir=Path(base_dir).resolve())
    validate_check_options(config)
    return config


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of audit.yaml, for editors' autocompletion: every key, and every check's options."""
    schema = AuditConfig.model_json_schema(by_alias=True)
    schema["properties"].pop("base_dir", None)
    schema["properties"].pop("path", None)
    schema["title"] = "auditor audit.yaml (version 1)"
    defs = schema.setdefault("$defs", {})
    checks: dict[str, Any] = {}
    for spec in catalogue():
        options = spec.options.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(options.pop("$defs", {}))
        options["title"] = spec.id
        options["description"] = spec.description
        checks[spec.id] = options
    schema["properties"]["checks"] = {
        "type": "object", "description": schema["properties"]["checks"].get("description", ""),
        "properties": checks, "additionalProperties": False,
    }
    return schema
