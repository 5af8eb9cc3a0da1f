"""Check options, declared once: a pydantic model per check, next to the check.

Each check's options class says every option's type, default, bounds and a one-line description
(`Field(description=...)`). Everything else comes from that declaration: the validation of
`checks:` in audit.yaml before any data is read (`auditor.audit.configure`), the JSON Schema that
editors autocomplete from (`auditor config-schema`), `auditor checks --options` and
docs/configuration.md.

A check reads its validated options as attributes (`ctx.options.warn`).

    class NullRateOptions(CheckOptions):
        warn: Rate = Field(0.05, description="null rate that warns")
        fail: Rate = Field(0.20, description="null rate that fails")

Warn and fail lines are checked against each other: with `direction = "above"` (higher values are
worse, the default) warn may not be above fail; with "below" warn may not be under it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Direction = Literal["above", "below"]

# Shared option types: the bounds say what a value means.
Rate = Annotated[float, Field(ge=0, le=1)]  # a share of rows, in [0, 1]
Probability = Annotated[float, Field(gt=0, lt=1)]  # a significance level, in (0, 1)
Count = Annotated[int, Field(ge=0)]  # rows or values, zero allowed
Size = Annotated[int, Field(ge=1)]  # a positive count (a group size, a number of bins)
Hours = Annotated[float, Field(ge=0)]
Factor = Annotated[float, Field(ge=1)]  # "at least this many times"
NonNegative = Annotated[float, Field(ge=0)]
PositiveNumber = Annotated[float, Field(gt=0)]  # a budget, a duration


def ordered(warn: float | None, fail: float | None, direction: Direction, *, names: tuple[str, str] = ("warn", "fail")
            ) -> None:
    """Raise when the warn line is past the fail line in the bad direction (it could never warn)."""
    if warn is None or fail is None:
        return
    if direction == "above" and warn > fail:
        raise ValueError(f"{names[0]} ({warn:g}) is above {names[1]} ({fail:g}); higher values are worse here, "
                         f"so {names[0]} must be at most {names[1]}")
    if direction == "below" and warn < fail:
        raise ValueError(f"{names[0]} ({warn:g}) is below {names[1]} ({fail:g}); lower values are worse here, "
                         f"so {names[0]} must be at least {names[1]}")


class Strict(BaseModel):
    """No unknown key, no mutation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Lines(Strict):
    """A warn and a fail line for one measure (higher is worse), like `psi: {warn: 0.1, fail: 0.25}`."""

    warn: NonNegative | None = Field(None, description="value that warns")
    fail: NonNegative | None = Field(None, description="value that fails")

    @model_validator(mode="after")
    def _in_order(self) -> Lines:
        ordered(self.warn, self.fail, "above")
        return self


class CheckOptions(Strict):
    """Every check's options: `enabled`, plus what the check declares. `direction` says how its
    top-level `warn` and `fail` read (the check's value is bad above them, or below them)."""

    direction: ClassVar[Direction] = "above"

    enabled: bool = Field(True, description="false turns the check off")

    @model_validator(mode="after")
    def _warn_not_past_fail(self) -> CheckOptions:
        ordered(getattr(self, "warn", None), getattr(self, "fail", None), self.direction)
        for column, block in (getattr(self, "columns", None) or {}).items():
            try:  # a column's own lines, over the check's, must be in order too
                self.with_overrides(block)
            except ValidationError as exc:
                raise ValueError(f"columns.{column}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        return self

    def with_overrides(self, overrides: BaseModel | dict[str, Any] | None) -> CheckOptions:
        """These options with the set fields of `overrides` (a per-column block) on top, validated again."""
        if overrides is None:
            return self
        given = overrides.model_dump(exclude_unset=True) if isinstance(overrides, BaseModel) else dict(overrides)
        return type(self).model_validate({**self.model_dump(exclude_unset=True, exclude={"columns"}), **given})


class NoOptions(CheckOptions):
    """A check with nothing to set but `enabled`."""


def option_rows(options: type[CheckOptions]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of each option, for `auditor checks --options` and the docs."""
    schema = options.model_json_schema()
    rows = []
    for name, field in options.model_fields.items():
        prop = schema.get("properties", {}).get(name, {})
        rows.append((name, type_text(prop, schema.get("$defs", {})), default_text(field.get_default(call_default_factory=True)),
                     field.description or ""))
    return rows


def type_text(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A JSON Schema type in a few words: `number ≥ 0 ≤ 1`, `integer ≥ 1 or null`, `{warn, fail}`."""
    if "$ref" in prop:
        target = defs.get(prop["$ref"].rsplit("/", 1)[-1], {})
        keys = ", ".join(target.get("properties", {}))
        return f"{{{keys}}}" if keys else "object"
    if "anyOf" in prop:
        return " or ".join(dict.fromkeys(type_text(p, defs) for p in prop["anyOf"]))
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    if "const" in prop:
        return repr(prop["const"])
    kind = prop.get("type", "any")
    if kind == "array":
        items = prop.get("prefixItems") or ([prop["items"]] if "items" in prop else [])
        inner = ", ".join(type_text(i, defs) for i in items) or "any"
        return f"[{inner}]" if "prefixItems" in prop else f"list of {inner}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"mapping of {type_text(extra, defs)}" if isinstance(extra, dict) else "mapping"
    bounds = [f"{sym} {prop[key]:g}" for key, sym in (("minimum", "≥"), ("exclusiveMinimum", ">"),
                                                         ("maximum", "≤"), ("exclusiveMaximum", "<")) if key in prop]
    return " ".join([kind, *bounds])


def default_text(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if value is None:
        return "none"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {default_text(v)}" for k, v in value.items()) + "}" if value else "{}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(default_text(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)
