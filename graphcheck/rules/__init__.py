"""The rule registry: every rule, its stable ID, slug, severity and documentation.

A rule is a function registered with :func:`rule` where it is defined. It reads the
results of :class:`graphcheck.analyses.model_analysis.ModelAnalysis` (never the file) through a
:class:`RuleContext` and yields :class:`~graphcheck.findings.Finding` objects. Its
docstring is its documentation: the first line is the title, then the sections
``## What it finds``, ``## Why is this bad?``, ``## Example`` and ``## Use instead``
(``docs/rules/GCnnn.md`` is generated from it by ``python scripts/rules_docs.py``).
What the text report's ``help:`` line says is the rule's ``help=`` (per Keras
semantics profile where the fix depends on the Keras that runs the model), else the
first paragraph of "Use instead"; the rule page lists the ``help=`` lines too.

IDs are ``GC`` plus three digits, grouped by hundreds: GC1xx stochastic layers and
dropout, GC2xx frozen and trainable, GC3xx graph structure, GC9xx notes from the tool
and the runtime check, GC4xx load safety. An ID is never reused; a renamed rule keeps
its old slug in ``aliases``. A rule may also belong to named ``groups``
(``load-safety``: GC302 and GC4xx), which ``--select`` accepts like an ID.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphcheck.findings import Finding, Severity

if TYPE_CHECKING:
    from graphcheck.analyses.model_analysis import ModelAnalysis
    from graphcheck.rules.stored import StoredWalk

__all__ = [
    "DOCS_URL",
    "REQUIRED_SECTIONS",
    "RULES",
    "Rule",
    "RuleContext",
    "find_rule",
    "rule",
    "rule_groups",
]

#: Where the rule pages are published, ``{id}`` replaced by the rule ID; None while they
#: are not, so no report links to a page that does not exist. The documentation itself
#: travels with the package: SARIF's ``help.markdown`` and ``graphcheck explain GCnnn``.
DOCS_URL: str | None = None

#: Headings every rule docstring must have, in this order.
REQUIRED_SECTIONS = ("What it finds", "Why is this bad?", "Example", "Use instead")

_ID = re.compile(r"^GC[1-9]\d\d$")
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

Check = Callable[["RuleContext"], Iterator[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One registered rule. ``options`` are its configurable values with defaults."""

    id: str
    slug: str
    severity: Severity
    message: str
    check: Check
    doc: str
    aliases: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    #: False for a rule only a run of the model can check (GC901, `graphcheck validate`):
    #: it is documented and listed like every rule, but the static runner skips it.
    static: bool = True
    groups: tuple[str, ...] = ()
    #: False for a rule that reads only the stored documents and container metadata
    #: (the load-safety rules): it also runs on a file that stores no layer graph.
    needs_graph: bool = True
    #: The report's ``help:`` line, by the name of the semantics profile that runs the
    #: model ("" for every Keras); without one, the first paragraph of "Use instead".
    help: Mapping[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.doc.strip().splitlines()[0].strip()

    @property
    def help_uri(self) -> str | None:
        return DOCS_URL.format(id=self.id) if DOCS_URL else None

    def sections(self) -> dict[str, str]:
        """The docstring's ``## Heading`` sections, heading -> body text."""
        found: dict[str, str] = {}
        current: str | None = None
        lines: list[str] = []
        for line in self.doc.splitlines():
            if line.startswith("## "):
                if current is not None:
                    found[current] = "\n".join(lines).strip()
                current, lines = line[3:].strip(), []
            elif current is not None:
                lines.append(line)
        if current is not None:
            found[current] = "\n".join(lines).strip()
        return found

    def help_for(self, profile: str | None = None) -> str:
        """What to do about a finding, in one paragraph, for the Keras profile that runs
        the model (a name of :data:`graphcheck.semantics.PROFILES`; None: not known)."""
        if profile is not None and profile in self.help:
            return self.help[profile]
        if "" in self.help:
            return self.help[""]
        return _first_paragraph(self.sections().get("Use instead", ""))

    def markdown(self) -> str:
        """The rule's documentation page."""
        head = [
            f"# {self.id}: {self.slug}",
            "",
            f"**{self.title}**",
            "",
            f"- Default severity: `{self.severity.value}`",
            f"- Message: `{self.message}`",
        ]
        if self.aliases:
            head.append("- Aliases: " + ", ".join(f"`{a}`" for a in self.aliases))
        if self.groups:
            head.append("- Groups: " + ", ".join(f"`{g}`" for g in self.groups))
        for name, value in self.options.items():
            head.append(
                f"- Option `{name}` (default `{value}`), set in `[tool.graphcheck.options]`"
            )
        body = self.doc.strip().split("\n", 1)[1].strip() if "\n" in self.doc.strip() else ""
        return "\n".join(head) + "\n\n" + body + "\n" + self._help_markdown()

    def _help_markdown(self) -> str:
        """The ``help:`` lines of the text report, when the rule gives its own."""
        if not self.help:
            return ""
        from graphcheck.semantics import PROFILES

        lines = [
            "", "## Help",
            "The `help:` line of the text report, by the Keras that runs the model:", "",
        ]
        for key, text in self.help.items():
            who = PROFILES[key].title if key in PROFILES else "any Keras"
            lines.append(f"- {who}: {text}")
        return "\n".join(lines) + "\n"


#: Every rule, by ID, in registration order (sorted by ID once all modules are loaded).
RULES: dict[str, Rule] = {}


def rule(
    id: str,
    slug: str,
    *,
    severity: Severity,
    message: str,
    aliases: tuple[str, ...] = (),
    options: Mapping[str, Any] | None = None,
    static: bool = True,
    groups: tuple[str, ...] = (),
    needs_graph: bool = True,
    help: Mapping[str, str] | None = None,
) -> Callable[[Check], Check]:
    """Register the decorated function as rule ``id``; its docstring documents it.

    Raises
    ------
    ValueError
        The ID or slug is malformed or already taken, or the docstring is missing.
    """

    def register(check: Check) -> Check:
        if not _ID.match(id) or not _SLUG.match(slug):
            raise ValueError(f"rule {id!r} {slug!r}: IDs are GCnnn, slugs kebab-case")
        taken = {r.slug for r in RULES.values()} | {a for r in RULES.values() for a in r.aliases}
        if id in RULES or slug in taken:
            raise ValueError(f"rule {id} {slug}: ID or slug already registered")
        doc = inspect.getdoc(check)
        if not doc:
            raise ValueError(f"rule {id}: the docstring is its documentation and is missing")
        RULES[id] = Rule(
            id, slug, severity, message, check, doc, aliases, dict(options or {}), static, groups,
            needs_graph, dict(help or {}),
        )
        return check

    return register


def _first_paragraph(text: str) -> str:
    """The first prose paragraph of a section, on one line; a code line it introduces
    (a paragraph ending in ":") follows it in backticks."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    for index, paragraph in enumerate(paragraphs):
        if paragraph.startswith("```"):
            continue
        prose = paragraph.split("```", 1)[0].strip()
        line = " ".join(prose.split())
        if line.endswith(":"):
            following = paragraph[len(prose):] or (
                paragraphs[index + 1] if index + 1 < len(paragraphs) else ""
            )
            code = [c.strip() for c in following.splitlines() if c.strip()
                    and not c.strip().startswith("```")]
            if code:
                line += f" `{code[0]}`"
        return line
    return ""


def rule_groups() -> set[str]:
    """Every group name some rule belongs to."""
    return {g for r in RULES.values() for g in r.groups}


def find_rule(name: str) -> Rule | None:
    """Look a rule up by ID (any case), slug or alias."""
    key = name.strip()
    if key.upper() in RULES:
        return RULES[key.upper()]
    for item in RULES.values():
        if key == item.slug or key in item.aliases:
            return item
    return None


@dataclass(slots=True)
class RuleContext:
    """What a rule function sees: the analysis, its options, the walk of the file's
    stored documents (shared by one model's rules), and a finding factory."""

    analysis: ModelAnalysis
    rule: Rule
    options: Mapping[str, Any]
    walk: StoredWalk
    found: list[Finding] = field(default_factory=list)

    def option(self, name: str) -> Any:
        return self.options.get(name, self.rule.options[name])

    def finding(self, path: str | None, **values: Any) -> Finding:
        """A finding of this rule at call path ``path``; ``values`` fill the message."""
        return Finding(
            rule=self.rule.id,
            slug=self.rule.slug,
            severity=self.rule.severity,
            message=self.rule.message.format(path=path, **values),
            model=self.analysis.saved.path,
            path=path,
        )


def _load_rule_modules() -> None:
    # Registration happens at import; the modules import `rule` from this package.
    from graphcheck.rules import (  # noqa: F401
        frozen,
        load_safety,
        preset_files,
        runtime,
        stochastic,
        structure,
    )

    ordered = dict(sorted(RULES.items()))
    RULES.clear()
    RULES.update(ordered)


_load_rule_modules()
