"""GC3xx: graph structure: layer classes graphcheck cannot analyse, stored code."""

from __future__ import annotations

from collections.abc import Iterator

from graphcheck.findings import Finding, Severity
from graphcheck.layers import layer_info
from graphcheck.rules import RuleContext, rule
from graphcheck.rules.stored import keras_hub_layers, keras_op_layers


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
    Calls of custom or third-party layer classes (KerasHub, keras_nlp and
    keras_cv classes, which are Keras's own, are GC303). On a built model (live, or
    `--rebuild`) Keras's own classes are not reported at all: their sublayers were
    walked and the stochastic ones are reported below them (`inner_stochastic`).
    For the others graphcheck cannot tell whether
    they are stochastic, hold weights, or depend on `training`, so it treats
    them as deterministic, and the verdicts of the other rules do not cover
    them. On a built Keras 3 model one thing about them is known: whether they (or
    their sublayers) draw random numbers with `keras.random`, and under which
    `training` value; those layers are reported in `inner_stochastic`
    (`own_random`) and GC101/GC103 cover them, while the finding stays for the
    rest (weights, batch statistics, randomness from outside Keras).

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
    unknown = ctx.analysis.unknown_calls()
    if not unknown:
        return
    code = {c.path for c in ctx.analysis.code_calls()}
    # Keras 3 stores keras.ops calls on symbolic tensors as op layers (Cast, Sum);
    # KerasHub classes are Keras's own too (GC303 says what is unknown about them).
    saved = ctx.analysis.saved
    ours = keras_op_layers(ctx.walk, saved.keras_version) | keras_hub_layers(ctx.walk)
    # On a built object (whose `stored` is the file's, or nothing) each layer records
    # its class's module: Keras's own classes there had their sublayers walked.
    opened = {c.path for c in ctx.analysis.opened_calls()}
    for call in unknown:
        if call.path in opened:
            continue
        if call.path not in code and (call.layer.name, call.layer.class_name) not in ours:
            yield ctx.finding(call.path, class_name=call.layer.class_name)


@rule(
    "GC303",
    "keras-hub-layer-not-analysed",
    severity=Severity.INFO,
    message="{path} is a KerasHub {class_name}: its internal dropout is not known "
    "statically (--rebuild analyses the built layer)",
)
def keras_hub_layer_not_analysed(ctx: RuleContext) -> Iterator[Finding]:
    """A KerasHub layer whose inner dropout the stored config does not show.

    ## What it finds
    Calls of KerasHub (or keras_nlp, keras_cv) layer classes, recognised by the
    `module` and `registered_name` their entry stores (`keras_hub>TransformerEncoder`),
    in a file read statically. They are Keras's own classes, so GC301 does not
    report them as unknown; but graphcheck does not list their internals, so
    whether they hold dropout (a `TransformerEncoder` holds three) and when it is
    active is not part of the verdicts of the other rules.

    ## Why is this bad?
    It is not: the model is ordinary. But a passing gate says nothing about the
    dropout inside these layers, and the report counts them among the calls whose
    stochasticity is unknown.

    ## Example
    ```python
    y = keras_hub.layers.TransformerEncoder(intermediate_dim=64, num_heads=2, dropout=0.1)(x)
    ```

    ## Use instead
    Run `graphcheck --rebuild model.keras`: the config is built with the installed
    Keras (no weights) and each KerasHub layer's dropouts are analysed. Or suppress
    this note.
    """
    saved = ctx.analysis.saved
    if saved.from_object:  # built (live or --rebuild): its inner layers were read
        return
    unknown = ctx.analysis.unknown_calls()
    hub = keras_hub_layers(ctx.walk) if unknown else set()
    for call in unknown:
        if (call.layer.name, call.layer.class_name) in hub:
            # Keras 3's .h5 stores the registered name (keras_hub>TransformerEncoder).
            yield ctx.finding(call.path, class_name=call.layer.class_name.rsplit(">", 1)[-1])


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
