"""Strict YAML for the files planners write: one mapping, no duplicate keys, errors that
name the line.

PyYAML's ``safe_load`` silently keeps the last of two equal keys (``PM2.5: 35`` then
``PM2.5: 53`` reads 53).  Every YAML netsim reads — scenarios, calibration targets,
variogram files — goes through :func:`yaml_mapping`, which rejects that and reports a
syntax error as ``FILE:LINE:COLUMN``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from netsim.errors import NetsimError

__all__ = ["line_of", "yaml_mapping"]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            dup = key in seen
        except TypeError:
            continue
        if dup:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (a key may appear once per mapping)",
                key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def yaml_mapping(text: str, label: str, error: type[NetsimError], *, what: str
                 ) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse ``text`` as one YAML mapping with string keys at the top level.

    Parameters
    ----------
    text
        The YAML document.
    label
        How errors name the file (usually its path).
    error
        The :class:`~netsim.errors.NetsimError` subclass to raise.
    what
        What the mapping holds, for the error when it is missing, e.g.
        ``"scenario fields (name:, changes: …)"``.

    Returns
    -------
    data, lines
        The mapping, and each key's YAML path (``changes[0].station``) → 1-based line.

    Raises
    ------
    NetsimError
        ``error`` with one line: a syntax error or duplicate key as ``label:LINE:COLUMN``,
        an empty document, or a document that is not a mapping of names.
    """
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # SafeLoader subclass
        node = yaml.compose(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else label
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise error(f"{where}: YAML syntax error: {problem}; check indentation, colons and "
                    "quotes at that position") from None
    except yaml.YAMLError as exc:
        raise error(f"{label}: YAML error: {' '.join(str(exc).split())}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date such as 2020-02-30
        raise error(f"{label}: invalid YAML value ({exc}); check dates (YYYY-MM-DD, real "
                    "calendar days) and numbers") from None
    if data is None:
        raise error(f"{label}: the file is empty; expected a YAML mapping of {what}")
    if not isinstance(data, dict):
        raise error(f"{label}:1: expected a YAML mapping of {what} at the top level, found a "
                    f"{type(data).__name__}")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise error(f"{label}: top-level key {bad[0]!r} is not a name; expected {what}")
    lines: dict[str, int] = {}
    _walk_lines(node, "", lines)
    return data, lines


def _walk_lines(node: yaml.Node | None, path: str, out: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            p = f"{path}.{key.value}" if path else str(key.value)
            out[p] = key.start_mark.line + 1
            _walk_lines(value, p, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            p = f"{path}[{i}]"
            out[p] = value.start_mark.line + 1
            _walk_lines(value, p, out)


def line_of(path: str, lines: Mapping[str, int]) -> int | None:
    """1-based line of a YAML path (``changes[0].station``) in the ``lines`` of
    :func:`yaml_mapping`, or of its nearest written ancestor (None if unknown)."""
    probe = path
    while probe:
        if probe in lines:
            return lines[probe]
        shorter = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", probe)
        if shorter == probe:
            break
        probe = shorter
    return None
