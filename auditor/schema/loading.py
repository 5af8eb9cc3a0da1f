"""A pandera schema from the config: a YAML file beside it, or `module:attribute`."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from auditor.errors import ConfigError

MODULE_ATTRIBUTE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def load_schema(spec: str, *, base_dir: Path) -> Any:
    """A pandera DataFrameSchema from a YAML path (relative to base_dir) or `module:attribute`."""
    import pandera.pandas as pa

    path = Path(spec).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if MODULE_ATTRIBUTE.match(spec) and not path.exists():
        module_name, attribute = spec.split(":")
        sys.path.insert(0, str(base_dir))  # a schema module may live beside the config
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"schema {spec}: cannot import it ({exc})") from None
        finally:
            sys.path.remove(str(base_dir))
    else:
        if not path.is_file():
            raise ConfigError(f"schema {spec}: file not found ({path})")
        try:
            obj = pa.DataFrameSchema.from_yaml(path)
        except Exception as exc:  # pandera raises yaml, key and type errors alike for a bad file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"schema {spec}: not a pandera YAML schema ({first})") from None
    if isinstance(obj, type) and issubclass(obj, pa.DataFrameModel):
        obj = obj.to_schema()
    if not isinstance(obj, pa.DataFrameSchema):
        raise ConfigError(f"schema {spec}: expected a pandera DataFrameSchema or DataFrameModel, got {type(obj).__name__}")
    return obj
