"""The configuration reference (docs/reference/configuration.md), generated from the
config model's Field descriptions.

    python -m shared.config.reference --readme   # the table between the page's markers
    scripts/docs-generate                        # written into the page

One row per key: nested sections are walked into, and a list or map of
sections (tiers, process_groups, web.history.tiers) gets a row of its own and
then rows for the keys of one element (`tiers.<n>.name`, `process_groups[].name`).
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from shared.config.base import Section
from shared.config.model import WardenConfig
from shared.readme_section import with_section
from shared.units import parse_size

MIB = 1024**2
# Text YAML reads back unchanged without quotes, in flow style too.
_PLAIN = re.compile(r"[A-Za-z0-9_./@-][A-Za-z0-9_./:@ -]*[A-Za-z0-9_./@-]|[A-Za-z0-9_./@-]")


@dataclass(frozen=True)
class Row:
    section: str
    key: str
    type: str
    default: str
    origin: Literal["ADRG", "Warden"]
    description: str


def _section_of(annotation: Any) -> type[Section] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None


def _optional_section(annotation: Any) -> type[Section] | None:
    """The section of `Section | None` (a key that is either absent or a section)."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return _section_of(args[0]) if len(args) == 1 else None


def _is_size(metadata: Sequence[Any]) -> bool:
    return any(isinstance(m, BeforeValidator) and m.func is parse_size for m in metadata)


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bounds(metadata: Sequence[Any]) -> str:
    parts = []
    for m in metadata:
        if isinstance(m, annotated_types.Gt):
            parts.append(f"> {_number(m.gt)}")
        elif isinstance(m, annotated_types.Ge):
            parts.append(f"≥ {_number(m.ge)}")
        elif isinstance(m, annotated_types.Lt):
            parts.append(f"< {_number(m.lt)}")
        elif isinstance(m, annotated_types.Le):
            parts.append(f"≤ {_number(m.le)}")
        elif isinstance(m, annotated_types.MultipleOf):
            parts.append(f"a multiple of {_number(m.multiple_of)}")
        elif isinstance(m, annotated_types.MaxLen):
            parts.append(f"at most {m.max_length}")
    return ", ".join(parts)


def type_name(annotation: Any, metadata: Sequence[Any] = ()) -> str:
    """How the reference names a field's type: `number > 0`, `list of text`, `size or none`."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        flat: list[Any] = []
        for item in extra:
            flat.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        return type_name(inner, [*metadata, *flat])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if _optional_section(annotation) is not None:
            return "section (keys below) or none"
        named = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or none" if type(None) in args else "")
    if origin is Literal:
        return " / ".join(f"`{value}`" for value in args)
    if origin is list:
        (item,) = args
        element = "sections (keys below)" if _section_of(item) else type_name(item)
        bounds = _bounds(metadata)
        return f"list of {element}" + (f", {bounds}" if bounds else "")
    if origin is dict:
        key, value = args
        element = "section (keys below)" if _section_of(value) else type_name(value)
        return f"map of {type_name(key)} to {element}"
    if _is_size(metadata):
        base = "size (`512M`, `1.5G`, bytes)"
    else:
        base = {bool: "bool", int: "integer", float: "number", str: "text"}.get(
            annotation, getattr(annotation, "__name__", str(annotation))
        )
    bounds = _bounds(metadata)
    return f"{base} {bounds}" if bounds else base


def _flow(value: object) -> str:
    """A default as YAML's flow style writes it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return value if _PLAIN.fullmatch(value) else json.dumps(value)
    if isinstance(value, BaseModel):
        return _flow(value.model_dump())
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return str(value)


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "readme_default" in extra:
        return str(extra["readme_default"])
    value = field.get_default(call_default_factory=False)
    if _is_size(field.metadata) and isinstance(value, int) and value and value % MIB == 0:
        return f"`{value // MIB}M`"
    return f"`{_flow(value)}`"


def rows(
    model: type[Section] = WardenConfig, prefix: str = "", section: str = "", adrg: bool = True
) -> Iterator[Row]:
    """Every key under model; adrg: whether model sits where an ADRG config.yaml has it."""
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        top = section or name
        is_adrg = adrg and name in model.ADRG_KEYS
        annotation = field.annotation
        nested = _section_of(annotation)
        if nested is not None:
            yield from rows(nested, f"{key}.", top, is_adrg)
            continue
        if not field.description:
            raise ValueError(f"{key} has no description")
        yield Row(
            top,
            key,
            type_name(annotation, field.metadata),
            default_text(field),
            "ADRG" if is_adrg else "Warden",
            field.description,
        )
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is dict and (element := _section_of(args[1])) is not None:
            yield from rows(element, f"{key}.<n>.", top, is_adrg)
        elif origin is list and (element := _section_of(args[0])) is not None:
            yield from rows(element, f"{key}[].", top, is_adrg)
        elif (optional := _optional_section(annotation)) is not None:
            yield from rows(optional, f"{key}.", top, is_adrg)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def readme_table() -> str:
    lines = [
        "| section | key | type | default | from | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows():
        cells = (
            f"`{row.section}`",
            f"`{row.key}`",
            row.type,
            row.default,
            row.origin,
            row.description,
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


README_START = (
    "<!-- config: generated by `python -m shared.config.reference --readme` "
    "from the Field descriptions in shared/config/ -->"
)
README_END = "<!-- config: end -->"


def readme_with_table(readme: str) -> str:
    """A page's text with the table between the markers replaced by the generated one."""
    return with_section(readme, README_START, README_END, readme_table())


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--readme"]:
        sys.stdout.write(readme_table())
        return 0
    print("usage: python -m shared.config.reference --readme", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
