"""GC1xx: stochastic layers (Dropout and friends) and the ``training`` they receive."""

from __future__ import annotations

from collections.abc import Iterator

from graphcheck.analyses.frozen import FrozenBy
from graphcheck.analyses.inner import InnerStochasticCall
from graphcheck.analyses.stochastic import StochasticCall
from graphcheck.findings import Finding, Severity
from graphcheck.kinds import Stochastic, facts_of
from graphcheck.layers import BATCH_NORM_CLASSES
from graphcheck.rules import RuleContext, rule
from graphcheck.semantics import Scenario, TrainingSource


def _is_noise(call: StochasticCall | InnerStochasticCall) -> bool:
    """A stochastic call that injects noise (not augmentation) at a rate above 0."""
    return call.spec.kind is not Stochastic.AUGMENTATION and not call.spec.is_noop


def _acts_on_input(call: StochasticCall | InnerStochasticCall) -> bool:
    """Noise on the tensor the call receives (not inside a layer, not augmentation)."""
    return _is_noise(call) and facts_of(call.spec.kind).acts_on_input


def _stored_sites(ctx: RuleContext, path: str, value: bool, own: bool) -> list[str]:
    """Call sites on ``path``'s call path that store ``training=value``, outermost first.

    Submodel calls store ``training`` only when the user passed it. The layer's own
    call counts only when ``own`` says the stored value is not a Keras 3 signature
    default written into the config (see KERAS_SEMANTICS.md section 3).
    """
    graph = ctx.analysis.graph
    call = graph.call(path)
    submodels = graph.submodels
    sites = [site for site in call.submodels if submodels[site].training is value]
    if own and call.training is value:
        sites.append(path)
    return sites


def _keras(ctx: RuleContext) -> str:
    choice = ctx.analysis.choice
    return f"Keras {choice.keras_version}" if choice.keras_version else choice.profile.title


# Keras 3.0-3.15 push fit()'s training=True into every call (both keras3 profiles).
_PUSHED_FIT_HELP = (
    "on Keras 3.0-3.15, calling the base as `base(x, training=False)` does not stop it "
    "(fit() passes training=True to every call); remove the base's Dropout or set its rate "
    "to 0 before freezing, or run the model with Keras 2 or 3.16+"
)


@rule(
    "GC101",
    "dropout-active-in-frozen-submodel",
    severity=Severity.WARNING,
    message="{path} still {acts} in fit() although {frozen}",
    help={
        "keras3": _PUSHED_FIT_HELP,
        "keras3.10": _PUSHED_FIT_HELP,
        "keras3-callsite": "`base(x, training=False)` stops it on Keras 3.16+, but the flag "
        "stays in the shared call context: layers called after the base without a flag of "
        "their own (a head Dropout) stop firing in fit() too; removing the base's Dropout (or "
        "rate 0 before freezing) stops it alone",
        "keras2": "call the base as `base(x, training=False)`: Keras 2 honours the innermost "
        "stored flag, so its dropout is off in fit() while the head's still fires",
    },
)
def dropout_active_in_frozen_submodel(ctx: RuleContext) -> Iterator[Finding]:
    """Dropout declared frozen (`trainable=False`) still drops units during fit().

    ## What it finds
    A stochastic layer (Dropout, GaussianNoise, RNN dropout, keras.applications
    ConvNeXt's `StochasticDepth`, which drops whole samples, ...) that sits inside a
    submodel declared `trainable=False`, or whose own `trainable` flag is False
    (`model.layers[-1].trainable = False` on a Dropout; tf_keras also writes the
    flag on every layer of a frozen Sequential), and that receives `training=True`
    in `fit()` under the Keras that will run the model. Stochastic sublayers that a
    layer holds and calls itself (a KerasHub `TransformerEncoder`'s attention and
    feed-forward dropouts, found with `--rebuild` or on a live model) are reported
    too: they fire with their holder's call, or, on a built Keras 3 model, with the
    `training` the holder's code runs them with in its symbolic calls (a sublayer it
    never calls is not reported). So are layers that draw random numbers
    in their own code (a KerasHub `DropPath`, a user's `keras.random` or tf_keras
    `tf.random` call;
    `own_random` in `inner_stochastic`), where a symbolic call of their holder
    (a trace, for tf_keras) shows them drawing
    under the `training` value `fit()` gives it. A model frozen as a whole
    trains no weight in `fit()`, so its dropout is not reported.

    ## Why is this bad?
    `trainable=False` freezes weights; it never switches dropout off. The frozen
    feature extractor therefore feeds randomly masked, rescaled features to the
    head during fine-tuning, while `predict()` sees clean features: the head is
    trained on a distribution it never sees at inference.

    ## Example
    ```python
    base = keras.Model(inp, layers.Dropout(0.5)(layers.Dense(8)(inp)))
    base.trainable = False
    outputs = layers.Dense(1)(base(x))   # base's dropout is active in fit()
    ```

    ## Use instead
    Which change stops the dropout depends on the Keras that runs the model: see
    Help below (the text report prints the line for that Keras).
    """
    # Sublayers a layer holds (a TransformerEncoder's dropouts, found on a rebuilt or
    # live model) fire with their holder's call, so they are reported the same way.
    calls: list[StochasticCall | InnerStochasticCall] = [
        *ctx.analysis.stochastic, *ctx.analysis.inner_stochastic
    ]
    for call in calls:
        if call.frozen_by_kind not in (FrozenBy.SUBMODEL, FrozenBy.LAYER):
            continue
        if _is_noise(call) and call.active[Scenario.FIT]:
            if call.frozen_by_kind == FrozenBy.LAYER and call.frozen_by != call.path:
                # A sublayer whose holding layer is frozen by its own flag.
                frozen = f"the layer holding it, {call.frozen_by}, is trainable=False"
            elif call.frozen_by_kind == FrozenBy.LAYER:
                frozen = "it is trainable=False itself"
            else:
                frozen = f"submodel {call.frozen_by} is trainable=False"
            yield ctx.finding(call.path, acts=facts_of(call.spec.kind).what_it_does, frozen=frozen)


@rule(
    "GC102",
    "training-false-ignored-in-fit",
    severity=Severity.ERROR,
    message="{path} runs in training mode in fit() although {site} stores training=False "
    "({keras} ignores call-site flags in fit())",
)
def training_false_ignored_in_fit(ctx: RuleContext) -> Iterator[Finding]:
    """A call-site `training=False` that the running Keras ignores in fit().

    ## What it finds
    Calls inside `base(x, training=False)` (or a layer called with
    `training=False` in a Keras 2 file) that still run in training mode in `fit()`:
    Keras 3.0-3.15 push `fit()`'s `training=True` into every call at every depth,
    so the base's Dropout is active and a trainable BatchNormalization in it
    normalises with batch statistics and updates its moving mean and variance.

    ## Why is this bad?
    `base(x, training=False)` is the documented transfer-learning idiom for
    keeping a base in inference mode while fine-tuning. Under Keras 3.0-3.15
    (keras-team/keras#20285) it has no effect in `fit()`: the features the head
    learns from are noisier than at inference, and unfreezing the base later
    starts from moving statistics that fine-tuning has already shifted.

    ## Example
    ```python
    base = keras.Model(inp, layers.Dropout(0.5)(layers.BatchNormalization()(h)))
    outputs = head(base(x, training=False))   # ignored by Keras 3.15 in fit()
    ```

    ## Use instead
    Freeze the BatchNormalization layers themselves (`bn.trainable = False` always
    uses moving statistics), and remove or zero the base's Dropout; or run the
    model with Keras 2 (tf_keras) or Keras 3.16+, where call-site flags win.
    """
    profile = ctx.analysis.profile
    if not profile.top_overrides_stored:
        return
    keras3_file = ctx.analysis.saved.dialect == "keras3"
    candidates: list[tuple[str, bool]] = [
        (c.path, not keras3_file)
        for c in ctx.analysis.stochastic
        if _is_noise(c)
        and c.active[Scenario.FIT]
        and c.received[Scenario.FIT].source is TrainingSource.TOP
    ]
    candidates += [
        (m.path, True)
        for m in ctx.analysis.mode_dependent
        if m.batch_statistics[Scenario.FIT]
        and m.received[Scenario.FIT].source is TrainingSource.TOP
    ]
    for path, own in candidates:
        sites = _stored_sites(ctx, path, False, own)
        if sites:
            yield ctx.finding(path, site=sites[-1], keras=_keras(ctx))


@rule(
    "GC103",
    "stochastic-active-at-inference",
    severity=Severity.WARNING,
    message="{path} is active in predict(): its output is random at inference",
    help={
        "": "if it is unintended, drop `training=True`; for a Monte Carlo dropout model, "
        "suppress GC103 for its paths in [tool.graphcheck] with a reason",
    },
)
def stochastic_active_at_inference(ctx: RuleContext) -> Iterator[Finding]:
    """A stochastic layer stays active in predict() (Monte Carlo dropout).

    ## What it finds
    A stochastic layer that receives `training=True` in `predict()` under the
    running Keras, usually `Dropout(rate)(x, training=True)`, or a TensorFlow
    random op recorded in a tf_keras graph, which ignores `training` altogether:
    `tf.nn.dropout`, a sampler such as `tf.random.normal` (a VAE's inline
    sampling step) or `tf.random.categorical`, a random transform such as
    `tf.image.random_flip_left_right` or `tf.random.shuffle` (`op_random`; their
    `stateless_` forms are deterministic and not reported). On a built model (live, or `--rebuild`)
    also a layer that draws random numbers in its own code (`keras.random`) in
    `predict()`, held inside another layer or not (`inner_stochastic`, `own_random`).

    ## Why is this bad?
    Two calls of `predict()` on the same input give different answers. That is
    the point of Monte Carlo dropout, and a bug everywhere else: exported
    serving models, evaluation metrics and cached predictions become random.

    ## Example
    ```python
    x = layers.Dropout(0.5)(x, training=True)   # random in predict()
    ```

    ## Use instead
    If it is unintended, drop `training=True`. If the model is an MC-dropout
    model, say so in `pyproject.toml`:
    ```toml
    [[tool.graphcheck.suppress]]
    rule = "GC103"
    path = "mc_dropout*"
    reason = "MC dropout is intended: predict() is averaged over 30 samples"
    ```
    """
    calls: list[StochasticCall | InnerStochasticCall] = [
        *ctx.analysis.stochastic, *ctx.analysis.inner_stochastic
    ]
    for call in calls:
        if _is_noise(call) and call.active[Scenario.PREDICT]:
            yield ctx.finding(call.path)


@rule(
    "GC104",
    "mc-dropout-disabled-in-predict",
    severity=Severity.ERROR,
    message="{path} stores training=True at {site} but {keras} runs it deterministically "
    "in predict()",
)
def mc_dropout_disabled_in_predict(ctx: RuleContext) -> Iterator[Finding]:
    """Monte Carlo dropout silently disabled in predict() by the running Keras.

    ## What it finds
    A stochastic layer whose call path stores `training=True` (MC dropout:
    `Dropout(r)(x, training=True)`, or a submodel called with `training=True`),
    which is nevertheless off in `predict()` because Keras 3.0-3.15 push
    `predict()`'s `training=False` into every call and ignore stored flags.

    ## Why is this bad?
    The model was built to sample: uncertainty estimates come from the spread of
    repeated `predict()` calls. Under Keras 3.0-3.15 every sample is identical,
    the spread is zero, and nothing reports an error: the uncertainty is silently
    gone.

    ## Example
    ```python
    x = layers.Dropout(0.5)(x, training=True)
    model.predict(batch)   # Keras 3.15: deterministic, the flag is ignored
    ```

    ## Use instead
    Sample with `model(batch, training=True)` (Keras 3 honours the top-level
    value), or run the model with Keras 2 (tf_keras) or Keras 3.16+.
    """
    if not ctx.analysis.profile.top_overrides_stored:
        return
    for call in ctx.analysis.stochastic:
        if not _is_noise(call) or call.active[Scenario.PREDICT]:
            continue
        sites = _stored_sites(ctx, call.path, True, own=True)
        if sites:
            yield ctx.finding(call.path, site=sites[-1], keras=_keras(ctx))


@rule(
    "GC105",
    "training-flags-differ-between-versions",
    severity=Severity.WARNING,
    message="{path} behaves differently under {running} than under {saving}, which saved "
    "the file: {changes} ({count} of {total} stochastic and BatchNormalization calls in "
    "this model change; {advice})",
    help={
        "": "re-save the model with the Keras that will run it, or run it with a Keras of the "
        "family that saved it (`--keras-version` shows what each would do)",
    },
)
def training_flags_differ_between_versions(ctx: RuleContext) -> Iterator[Finding]:
    """The saving and the running Keras treat this call's training= flags differently.

    ## What it finds
    Calls whose activity (stochastic layers) or statistics mode
    (BatchNormalization) in `fit()`, `predict()` or `model(x)` differs between
    the Keras version that saved the file and the one that will run it. This
    includes the defaults Keras 3.0-3.15 store on every Dropout node
    (`"training": false`): a Keras that honours call-site flags (3.16+) reads
    them as if the user had passed them, so those Dropouts never fire in `fit()`.

    ## Why is this bad?
    The model was trained, validated and perhaps calibrated under one set of
    semantics and will run under another. Regularisation can vanish during
    further training, MC dropout can go dead or appear, and BatchNormalization
    can start or stop updating its statistics, all without an error.

    ## Example
    ```text
    model.keras saved by Keras 3.15.1, loaded by Keras 3.16:
      dropout  fit(): active -> off   (stored "training": false now honoured)
    ```

    ## Use instead
    Rebuild and re-save the model with the Keras that will run it (Keras 3.16+
    stores no `call()` defaults), or, for a Keras 3.0-3.15 file run by Keras
    3.16+, strip the stored `"training": false` defaults from the config's
    call nodes; or run it with a Keras of the same family as the one that saved
    it (`--keras-version` shows what each would do). The message counts the
    calls that change, so the size of the upgrade is visible at once.
    """
    analysis = ctx.analysis
    if analysis.saving_profile is None or not analysis.conflicts:
        return
    saving = f"Keras {analysis.saved.keras_version}"
    running = _keras(ctx)
    changed = {conflict.path for conflict in analysis.conflicts}
    total = len(analysis.stochastic) + len(analysis.mode_dependent)
    if analysis.saving_profile.top_overrides_stored and not analysis.profile.top_overrides_stored:
        advice = (
            f"re-save the model with {running}, or strip the stored \"training\": false "
            "defaults from its call nodes"
        )
    else:
        advice = f"re-save the model with {running}, or run it with {saving}'s family"
    by_path: dict[str, list[str]] = {}
    modes = {m.path for m in analysis.mode_dependent}
    for conflict in analysis.conflicts:
        on, off = ("batch", "moving") if conflict.path in modes else ("active", "off")
        change = (
            f"{conflict.scenario.label} {on if conflict.saving else off} -> "
            f"{on if conflict.running else off}"
        )
        by_path.setdefault(conflict.path, []).append(change)
    for path, changes in by_path.items():
        yield ctx.finding(
            path, saving=saving, running=running, changes=", ".join(changes),
            count=len(changed), total=total, advice=advice,
        )


@rule(
    "GC106",
    "stochastic-never-active",
    severity=Severity.WARNING,
    message="{path} is never active: not in fit(), predict() or model(x)",
)
def stochastic_never_active(ctx: RuleContext) -> Iterator[Finding]:
    """A stochastic layer that can never be active.

    ## What it finds
    A stochastic layer with a rate above 0 that receives `training=False` in
    every scenario (`fit()`, `predict()`, `model(x)`) under the running Keras,
    for example because a call-site `training=False` is honoured, or because a
    Keras 3.0-3.15 file stores `"training": false` on every Dropout node and a
    Keras that honours call-site flags runs it.

    ## Why is this bad?
    The layer is dead weight: the regularisation the author configured never
    happens, and the model overfits in a way its code does not show.

    ## Example
    ```python
    x = layers.Dropout(0.3)(x, training=False)   # Keras 2: never drops
    ```

    ## Use instead
    Remove the `training=False` (or the layer), or re-save the model with the
    Keras that will run it.
    """
    for call in ctx.analysis.stochastic:
        if not _is_noise(call) or facts_of(call.spec.kind).ignores_training:
            continue
        if not any(call.active.values()):
            yield ctx.finding(call.path)


@rule(
    "GC107",
    "dropout-feeds-output",
    severity=Severity.WARNING,
    message="{path} feeds a model output directly",
    help={
        "": "put the Dropout before the output layer: `layers.Dense(1)(layers.Dropout(0.2)(x))`",
    },
)
def dropout_feeds_output(ctx: RuleContext) -> Iterator[Finding]:
    """A stochastic layer produces a model output directly.

    ## What it finds
    A Dropout (or other noise layer) whose output is one of the model's
    outputs, with no layer after it.

    ## Why is this bad?
    Dropout on the prediction itself zeroes and rescales the outputs in
    training: a regression target is matched by a value that is either 0 or
    `y / (1 - rate)`, a softmax stops summing to 1. It is almost always a layer
    left in the wrong place.

    ## Example
    ```python
    outputs = layers.Dropout(0.2)(layers.Dense(1)(x))
    ```

    ## Use instead
    ```python
    outputs = layers.Dense(1)(layers.Dropout(0.2)(x))
    ```
    """
    for call in ctx.analysis.stochastic:
        if _acts_on_input(call) and call.feeds_output:
            yield ctx.finding(call.path)


@rule(
    "GC108",
    "dropout-before-batch-normalization",
    severity=Severity.WARNING,
    message="{path} feeds BatchNormalization {consumer} directly",
)
def dropout_before_batch_normalization(ctx: RuleContext) -> Iterator[Finding]:
    """Dropout immediately before BatchNormalization.

    ## What it finds
    A noise layer whose output goes straight into a BatchNormalization layer.

    ## Why is this bad?
    Dropout changes the variance of its output between training and inference
    ("variance shift", Li et al., 2019). BatchNormalization learns its moving
    variance from the noisy training activations and applies it to the clean
    inference activations, so the normalised values are off at inference.

    ## Example
    ```python
    x = layers.BatchNormalization()(layers.Dropout(0.5)(x))
    ```

    ## Use instead
    Put Dropout after the last BatchNormalization, or normalise first:
    ```python
    x = layers.Dropout(0.5)(layers.BatchNormalization()(x))
    ```
    """
    graph = ctx.analysis.graph
    for call in ctx.analysis.stochastic:
        if not _acts_on_input(call):
            continue
        for consumer in call.consumers:
            if graph.call(consumer).layer.class_name in BATCH_NORM_CLASSES:
                yield ctx.finding(call.path, consumer=consumer)


@rule(
    "GC109",
    "consecutive-stochastic-layers",
    severity=Severity.INFO,
    message="{path} masks the output of stochastic layer {previous}",
    help={"": "keep one of the two layers, with the rate you mean"},
)
def consecutive_stochastic_layers(ctx: RuleContext) -> Iterator[Finding]:
    """Two stochastic layers in a row.

    ## What it finds
    A noise layer whose input is the output of another noise layer.

    ## Why is this bad?
    Two Dropouts in a row act as one Dropout with rate `1 - (1 - a)(1 - b)`:
    the effective rate is higher than either number in the code says, and the
    second layer is usually a leftover from an edit.

    ## Example
    ```python
    x = layers.Dropout(0.3)(layers.Dropout(0.3)(x))   # effective rate 0.51
    ```

    ## Use instead
    ```python
    x = layers.Dropout(0.5)(x)
    ```
    """
    noisy = {c.path for c in ctx.analysis.stochastic if _acts_on_input(c)}
    for call in ctx.analysis.stochastic:
        if call.path not in noisy:
            continue
        for masked in call.masks:
            if masked.producer in noisy:
                yield ctx.finding(call.path, previous=masked.producer)


@rule(
    "GC110",
    "zero-rate",
    severity=Severity.INFO,
    message="{path} has rate 0: it never changes its input",
)
def zero_rate(ctx: RuleContext) -> Iterator[Finding]:
    """A stochastic layer configured with rate 0.

    ## What it finds
    A Dropout-family layer (or GaussianNoise with `stddev=0`) whose configured
    strength makes it the identity.

    ## Why is this bad?
    It does nothing, but readers of the model assume it regularises. Often it
    is a hyper-parameter sweep's leftover or a rate that was meant to be set
    later.

    ## Example
    ```python
    x = layers.Dropout(0.0)(x)
    ```

    ## Use instead
    Remove the layer, or give it the rate you meant.
    """
    for call in ctx.analysis.stochastic:
        if call.spec.is_noop:
            yield ctx.finding(call.path)


@rule(
    "GC111",
    "dropout-rate-too-high",
    severity=Severity.WARNING,
    message="{path} has {parameter}={rate:g}, above the threshold {threshold:g}",
    options={"max-rate": 0.5},
    help={
        "": "Keras's rate is the fraction dropped: if you meant keep_prob, use 1 - rate "
        "(`layers.Dropout(0.2)` keeps 80%)",
    },
)
def dropout_rate_too_high(ctx: RuleContext) -> Iterator[Finding]:
    """A dropout rate above the configured threshold (default 0.5).

    ## What it finds
    A Dropout-family layer, RNN or attention layer whose dropout rate (or
    recurrent dropout rate) is above `max-rate` (set it under
    `[tool.graphcheck.options]`).

    ## Why is this bad?
    Keras's `rate` is the fraction *dropped*, not kept (Keras 1 and TensorFlow's
    `keep_prob` meant the opposite). A rate of 0.8 keeps one unit in five and
    scales it by 5; it is more often a `keep_prob` mistaken for a rate than a
    deliberate choice.

    ## Example
    ```python
    x = layers.Dropout(0.8)(x)   # meant: keep 80%
    ```

    ## Use instead
    ```python
    x = layers.Dropout(0.2)(x)
    ```
    """
    threshold = float(ctx.option("max-rate"))
    for call in ctx.analysis.stochastic:
        spec = call.spec
        if not facts_of(spec.kind).rate_is_probability:
            continue
        for parameter, rate in (
            (spec.parameter, spec.rate),
            ("recurrent_dropout", spec.recurrent_rate),
        ):
            if rate is not None and rate > threshold:
                yield ctx.finding(call.path, parameter=parameter, rate=rate, threshold=threshold)


@rule(
    "GC112",
    "recurrent-dropout-disables-cudnn",
    severity=Severity.INFO,
    message="{path} has recurrent_dropout={rate:g}: no cuDNN kernel on GPU",
    help={
        "": "use input `dropout=` instead of `recurrent_dropout=` where speed on GPU matters "
        "(it keeps the cuDNN kernel)",
    },
)
def recurrent_dropout_disables_cudnn(ctx: RuleContext) -> Iterator[Finding]:
    """`recurrent_dropout` > 0 rules out the fast cuDNN kernel on GPU.

    ## What it finds
    An LSTM or GRU (also inside Bidirectional or TimeDistributed) configured
    with `recurrent_dropout` above 0.

    ## Why is this bad?
    Keras uses the fused cuDNN kernel for LSTM and GRU only when
    `recurrent_dropout == 0` (among other conditions). With recurrent dropout
    the layer falls back to the generic loop, typically several times slower in
    training and in inference.

    ## Example
    ```python
    layers.LSTM(64, recurrent_dropout=0.2)
    ```

    ## Use instead
    ```python
    layers.LSTM(64, dropout=0.2)   # input dropout keeps the cuDNN kernel
    ```
    """
    for call in ctx.analysis.stochastic:
        rate = call.spec.recurrent_rate
        if rate is not None and rate > 0:
            yield ctx.finding(call.path, rate=rate)
