"""GC3xx: graph structure: layer classes graphcheck cannot analyse, stored code."""

from __future__ import annotations

from collections.abc import Iterator

from graphcheck.findings import Finding, Severity
from graphcheck.layers import layer_info
from graphcheck.rules import RuleContext, rule
from graphcheck.rules.stored import keras_op_layers


@rule(
    "GC301",
    "unknown-layer-class",
    severity=Severity.WARNING,
    message="{path} is a {class_name}, a class graphcheck does not know: the analysis is "
    "incomplete for it",
)
def unknown_layer_class(ctx: RuleContext) -> Iterator[Finding]:
    """A layer class graphcheck does not know: the analysis is incomplete for it.

    ## What it finds
    Calls of custom or third-party layer classes. graphcheck cannot tell whether
    they are stochastic, hold weights, or depend on `training`, so it treats
    them as deterministic, and the verdicts of the other rules do not cover
    them.

    ## Why is this bad?
    A custom layer may contain its own dropout, noise or batch statistics; a
    gate that passes the model says nothing about it. The file also needs the
    class's code to load at all.

    ## Example
    ```python
    @keras.saving.register_keras_serializable()
    class StochasticDepth(layers.Layer): ...
    ```

    ## Use instead
    Review the class by hand and suppress the finding for its path with a reason,
    or build the behaviour from standard Keras layers.
    """
    code = {c.path for c in ctx.analysis.code_calls()}
    # Keras 3 stores keras.ops calls on symbolic tensors as op layers (Cast, Sum).
    ops = keras_op_layers(ctx.analysis.saved.stored, ctx.analysis.saved.keras_version)
    for call in ctx.analysis.unknown_calls():
        if call.path not in code and (call.layer.name, call.layer.class_name) not in ops:
            yield ctx.finding(call.path, class_name=call.layer.class_name)


@rule(
    "GC302",
    "lambda-layer-stores-code",
    severity=Severity.ERROR,
    message="{path} stores Python code ({class_name}): loading the model runs it{advice}",
    groups=("load-safety",),
)
def lambda_layer_stores_code(ctx: RuleContext) -> Iterator[Finding]:
    """A Lambda layer with embedded Python code, at any depth.

    ## What it finds
    Lambda layers (also inside nested models and inside wrappers such as
    TimeDistributed) whose config stores serialised Python bytecode.

    ## Why is this bad?
    Loading the model deserialises and runs that code: a model file from an
    untrusted source can execute anything (Keras 3 refuses unless
    `safe_mode=False`). The code is also tied to the Python version that saved
    it, and graphcheck cannot analyse what it does.

    ## Example
    ```python
    x = layers.Lambda(lambda t: t * 2.0)(x)
    ```

    ## Use instead
    Write a small registered Layer subclass (`@keras.saving.register_keras_serializable`),
    or use built-in layers (`layers.Rescaling(2.0)`).
    """
    from graphcheck.rules.load_safety import exposure

    advice = exposure(ctx, ctx.rule.id)
    for call in ctx.analysis.code_calls():
        name = call.layer.class_name
        if not layer_info(name).has_code:
            name = f"{name} wrapping Lambda"
        yield ctx.finding(call.path, class_name=name, advice=advice)
