"""Run the enabled rules on one analysis: configured, deduplicated and sorted.

Reading, analysing and checking many models (and the process pool of ``--jobs``)
is :func:`graphcheck.api.check`; nothing here reads a file or prints.
"""

from __future__ import annotations

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.findings import Finding, sort_findings
from graphcheck.gate_config import GateConfig, select_rules
from graphcheck.rules import RULES, RuleContext
from graphcheck.rules.stored import StoredWalk

__all__ = ["run_rules"]


def run_rules(
    analysis: ModelAnalysis, config: GateConfig | None = None, walk: StoredWalk | None = None
) -> tuple[Finding, ...]:
    """Every finding of the enabled rules on one analysis, configured and sorted.

    ``walk``: the walk of the file's stored documents, when the caller runs the rules on
    several analyses of one file (the HTML page's profiles); else one is made here.

    On a file that stores no layer graph (``saved.has_graph`` False) only the rules
    that need none run (the load-safety rules): the others would see an empty model
    and say nothing, which is not the same as passing.
    """
    config = config or GateConfig()
    has_graph = analysis.saved.has_graph
    walk = walk or StoredWalk(analysis.saved.stored)  # this model's rules share one walk
    found: list[Finding] = []
    for rule_id in select_rules(config):
        item = RULES[rule_id]
        if item.needs_graph and not has_graph:
            continue
        ctx = RuleContext(analysis, item, config.options, walk)
        found.extend(config.apply(f) for f in item.check(ctx))
    return sort_findings(dict.fromkeys(found))
