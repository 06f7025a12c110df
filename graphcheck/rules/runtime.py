"""GC9xx: findings that only running the model can make (``graphcheck validate``)."""

from __future__ import annotations

from collections.abc import Iterator

from graphcheck.findings import Finding, Severity
from graphcheck.rules import RuleContext, rule


@rule(
    "GC901",
    "runtime-disagrees-with-static",
    severity=Severity.ERROR,
    message="{message}",
    static=False,
)
def runtime_disagrees_with_static(ctx: RuleContext) -> Iterator[Finding]:
    """A run of the model with real Keras contradicted a static claim.

    ## What it finds
    `graphcheck validate` (or `check --validate`) loads the model with the installed
    Keras, runs predict(), model(x), model(x, training=True/False) and one fit()
    step, and compares what each stochastic and BatchNormalization call did, and
    which weights changed, with the static report. Each observation that differs
    is one GC901 finding, naming the call, the scenario, the static answer and the
    observed one. The static check cannot find these: the runtime check makes
    them (``graphcheck/runtime/validate.py``).

    ## Why is this bad?
    The static report is what a gate trusts. A disagreement means graphcheck's
    model of Keras is wrong for this file and this Keras release (or the model's
    custom code does something its config does not say), so the other findings
    for the model may be wrong too.

    ## Example
    ```console
    $ graphcheck validate model.keras --keras-version 2.15
    ...
      error GC901: head/dropout (Dropout) in fit(): static says ...; Keras 3.15.1 ...
    ```

    ## Use instead
    Validate with the Keras that will run the model (leave out `--keras-version`),
    and report a disagreement that remains as a graphcheck bug, with the model.
    """
    # Nothing to find without running the model; the runtime check reports GC901.
    yield from ()
