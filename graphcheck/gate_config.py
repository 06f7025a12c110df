"""The gate's configuration: ``[tool.graphcheck]`` in ``pyproject.toml``.

::

    [tool.graphcheck]
    select = ["GC1", "GC2"]        # rule IDs, ID prefixes, slugs, or "ALL" (default)
    ignore = ["GC112"]
    fail-on = "warning"            # error (default) | warning | info | never
    keras-version = "3.15"         # the Keras that will run the models
    severity = { GC103 = "info" }  # per-rule severity overrides
    options = { max-rate = 0.6 }   # rule options (see each rule's page)
    suppress = [
      { rule = "GC103", path = "head/mc_dropout*", reason = "MC dropout is intended" },
    ]

The file is found by walking up from a start directory (the current directory, or
the first model's); command-line flags override it. Every problem raises
:class:`ConfigError` naming the file and the key.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from graphcheck.errors import ConfigError, MissingDependencyError
from graphcheck.findings import FailOn, Finding, Severity
from graphcheck.rules import RULES, find_rule, rule_groups

__all__ = [
    "GateConfig",
    "Suppression",
    "check_rule_names",
    "find_pyproject",
    "load_config",
    "parse_config",
    "select_rules",
]

_KEYS = frozenset(
    {"select", "ignore", "fail-on", "keras-version", "severity", "options", "suppress"}
)


@dataclass(frozen=True, slots=True)
class Suppression:
    """Mark findings of ``rule`` at call paths matching ``path`` as intended.

    ``path`` and ``model`` are ``fnmatch`` patterns on the call path and on the
    model file path (``*`` matches ``/`` too). ``reason`` is required.
    """

    rule: str
    path: str
    reason: str
    model: str = "*"

    def matches(self, finding: Finding) -> bool:
        if self.rule not in ("*", finding.rule, finding.slug):
            return False
        if not fnmatch.fnmatchcase(finding.path or "", self.path):
            return False
        return fnmatch.fnmatchcase(finding.model, self.model) or fnmatch.fnmatchcase(
            Path(finding.model).as_posix(), self.model
        )


@dataclass(frozen=True, slots=True)
class GateConfig:
    """The effective settings of one run. ``fail_on`` None: not set anywhere."""

    select: tuple[str, ...] = ("ALL",)
    ignore: tuple[str, ...] = ()
    fail_on: FailOn | None = None
    keras_version: str | None = None
    severity: Mapping[str, Severity] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    suppress: tuple[Suppression, ...] = ()
    source: str | None = None

    def override(
        self,
        select: Sequence[str] = (),
        ignore: Sequence[str] = (),
        fail_on: FailOn | None = None,
        keras_version: str | None = None,
    ) -> GateConfig:
        """Apply command-line flags: ``--select`` replaces, ``--ignore`` adds."""
        return replace(
            self,
            select=tuple(select) or self.select,
            ignore=self.ignore + tuple(ignore),
            fail_on=fail_on or self.fail_on,
            keras_version=keras_version or self.keras_version,
        )

    def apply(self, finding: Finding) -> Finding:
        """The finding with its configured severity and, if one matches, its suppression."""
        severity = self.severity.get(finding.rule) or self.severity.get(finding.slug)
        if severity is not None:
            finding = replace(finding, severity=severity)
        for item in self.suppress:
            if item.matches(finding):
                return finding.suppress(item.reason)
        return finding


def find_pyproject(start: str | Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.graphcheck]`` table, walking up."""
    try:
        here = Path(start).resolve()
        if not here.is_dir():
            here = here.parent
    except (OSError, RuntimeError):  # a symlink loop or an unreadable path: the reader reports it
        here = Path.cwd()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file() and "[tool.graphcheck" in candidate.read_text(errors="replace"):
            return candidate
    return None


def load_config(start: str | Path | None = None, path: str | Path | None = None) -> GateConfig:
    """Read ``[tool.graphcheck]`` from ``path``, or from the nearest pyproject.toml.

    Raises
    ------
    ConfigError
        The file is not valid TOML, or the table holds an unknown key or bad value.
    """
    found = Path(path) if path is not None else find_pyproject(start or Path.cwd())
    if found is None:
        return GateConfig()
    toml = _toml_module()
    try:
        document = toml.loads(found.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(found), f"cannot be read ({exc})") from None
    except toml.TOMLDecodeError as exc:
        raise ConfigError(str(found), f"is not valid TOML ({exc})") from None
    table = document.get("tool", {}).get("graphcheck", {})
    return parse_config(table, str(found))


def parse_config(table: Mapping[str, Any], source: str = "pyproject.toml") -> GateConfig:
    """Check and convert a ``[tool.graphcheck]`` table.

    Raises
    ------
    ConfigError
        An unknown key, an unknown rule, or a value of the wrong kind.
    """

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(source, f"[tool.graphcheck] {key}: {problem}")

    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (expected one of: {', '.join(sorted(_KEYS))})")
    select = _names(table.get("select", ["ALL"]), "select", fail)
    ignore = _names(table.get("ignore", []), "ignore", fail)
    fail_on = None
    if "fail-on" in table:
        try:
            fail_on = FailOn(str(table["fail-on"]).lower())
        except ValueError:
            raise fail("fail-on", "expected error, warning, info or never") from None
    version = table.get("keras-version")
    if version is not None and not isinstance(version, str):
        raise fail("keras-version", 'expected a string such as "3.15"')
    severity: dict[str, Severity] = {}
    for name, value in _table(table.get("severity", {}), "severity", fail).items():
        found = find_rule(name)
        if found is None:
            raise fail("severity", f"unknown rule {name!r}")
        try:
            severity[found.id] = Severity.parse(str(value))
        except ValueError as exc:
            raise fail("severity", str(exc)) from None
    options = dict(_table(table.get("options", {}), "options", fail))
    suppress = tuple(
        _suppression(item, fail) for item in _list(table.get("suppress", []), "suppress", fail)
    )
    return GateConfig(select, ignore, fail_on, version, severity, options, suppress, source)


def select_rules(config: GateConfig) -> list[str]:
    """IDs of the static rules the configuration enables, in ID order.

    A name matches a rule when it is ``ALL``, the rule's ID or an ID prefix
    (``GC1``), its slug or an alias, or a group it belongs to (``load-safety``).
    """

    def matches(name: str, rule_id: str) -> bool:
        item = RULES[rule_id]
        upper = name.upper()
        return (upper == "ALL" or rule_id.startswith(upper) or name == item.slug
                or name in item.aliases or name in item.groups)

    return [
        rule_id
        for rule_id in RULES
        if RULES[rule_id].static
        and any(matches(n, rule_id) for n in config.select)
        and not any(matches(n, rule_id) for n in config.ignore)
    ]


def check_rule_names(names: Iterable[str]) -> list[str]:
    """The names that match no rule (for ``--select``/``--ignore`` validation)."""
    bad = []
    for name in names:
        if name.upper() == "ALL" or find_rule(name) is not None or name in rule_groups():
            continue
        if name.upper().startswith("GC") and any(r.startswith(name.upper()) for r in RULES):
            continue
        bad.append(name)
    return bad


def _names(value: Any, key: str, fail: Any) -> tuple[str, ...]:
    names = tuple(str(v) for v in _list(value, key, fail))
    bad = check_rule_names(names)
    if bad:
        raise fail(key, f"unknown rule {bad[0]!r}")
    return names


def _list(value: Any, key: str, fail: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise fail(key, "expected a list")
    return value


def _table(value: Any, key: str, fail: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(key, "expected a table")
    return value


def _suppression(item: Any, fail: Any) -> Suppression:
    if not isinstance(item, Mapping):
        raise fail("suppress", "each entry is a table {rule, path, reason}")
    extra = sorted(set(item) - {"rule", "path", "reason", "model"})
    if extra:
        raise fail("suppress", f"unknown key {extra[0]!r} (expected rule, path, reason, model)")
    rule_name = item.get("rule")
    reason = item.get("reason")
    if not isinstance(rule_name, str) or (rule_name != "*" and find_rule(rule_name) is None):
        raise fail("suppress", f"unknown rule {rule_name!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise fail("suppress", f"the entry for {rule_name} needs a reason")
    found = find_rule(rule_name)
    return Suppression(
        rule=found.id if found else "*",
        path=str(item.get("path", "*")),
        reason=reason.strip(),
        model=str(item.get("model", "*")),
    )


def _toml_module() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    try:  # pragma: no cover - Python 3.10
        import tomli  # type: ignore[import-not-found,unused-ignore]  # Python 3.10 only
    except ImportError:  # pragma: no cover
        raise MissingDependencyError(
            "pyproject.toml", "reading it on Python 3.10 needs tomli"
        ) from None
    return tomli
