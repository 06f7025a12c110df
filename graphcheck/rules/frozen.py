"""GC2xx: frozen and trainable state, as declared and as it will train after loading."""

from __future__ import annotations

from collections.abc import Iterator

from graphcheck.findings import Finding, Severity
from graphcheck.rules import RuleContext, rule
from graphcheck.semantics import Scenario


@rule(
    "GC201",
    "frozen-batchnorm-switches-on-unfreeze",
    severity=Severity.WARNING,
    message="{count} frozen BatchNormalization layer(s) at {path} receive training=True in "
    "fit(): unfreezing switches them to batch statistics",
)
def frozen_batchnorm_switches_on_unfreeze(ctx: RuleContext) -> Iterator[Finding]:
    """A frozen BatchNormalization that will switch to batch statistics when unfrozen.

    ## What it finds
    A BatchNormalization layer with `trainable=False` that receives
    `training=True` in `fit()`. While frozen it uses its moving statistics
    whatever it receives; the moment it is unfrozen for fine-tuning
    (`base.trainable = True`), it normalises with the statistics of each batch
    and updates its moving mean and variance. One finding per frozen submodel or
    frozen top model (or per layer outside them), with the number of layers affected.

    ## Why is this bad?
    This is the classic fine-tuning collapse: the pretrained moving statistics
    are overwritten by small-batch estimates, the head suddenly sees
    differently scaled features, and the validation loss jumps after unfreezing.

    ## Example
    ```python
    base.trainable = False
    outputs = head(base(x))          # BN receives training=True in fit()
    base.trainable = True            # fine-tuning: BN now uses batch statistics
    ```

    ## Use instead
    Call the base in inference mode, `base(x, training=False)` (honoured by Keras 2
    and Keras 3.16+), and keep the BatchNormalization layers frozen
    (`bn.trainable = False`) when you unfreeze the rest of the base.
    """
    groups: dict[str, int] = {}
    for mode in ctx.analysis.mode_dependent:
        if mode.trainable is False and mode.received[Scenario.FIT].value:
            key = mode.frozen_by or mode.path
            groups[key] = groups.get(key, 0) + 1
    for path, count in groups.items():
        yield ctx.finding(path, count=count)


@rule(
    "GC202",
    "frozen-state-changes-on-load",
    severity=Severity.WARNING,
    message="{count} layer(s) at {path}: the file declares them {declared}, but they will "
    "{will} after loading",
)
def frozen_state_changes_on_load(ctx: RuleContext) -> Iterator[Finding]:
    """Frozen state that differs between what the file declares and what will train.

    ## What it finds
    Layers whose weights the file declares frozen but which will train after
    loading, or the other way round. Causes measured on real Keras: tf_keras
    resets every loaded Functional and Sequential container to `trainable=True`,
    Keras 3 resets Sequential containers, and Keras 3 lets a layer marked
    `trainable=True` inside a frozen parent train. One finding per frozen
    submodel or frozen top model (or per layer outside them), with the number
    of layers affected.

    ## Why is this bad?
    A model saved mid-way through transfer learning is loaded for further
    training, and the "frozen" base trains: pretrained weights are destroyed by
    the large gradients of a fresh head, or the layer the author unfroze stays
    frozen.

    ## Example
    ```python
    base.trainable = False
    base.layers[-1].trainable = True   # declared frozen by its parent; trains in Keras 3
    model.save("model.keras")
    ```

    ## Use instead
    Set the layers' own `trainable` flags explicitly after loading (for
    example `for layer in base.layers: layer.trainable = False`), and check
    `graphcheck check` says "will train" only where you mean it.
    """
    groups: dict[str, list[bool]] = {}
    for path, state in ctx.analysis.frozen.calls.items():
        if state.declared_differs_from_loaded:
            groups.setdefault(state.frozen_by or path, []).append(bool(state.will_train))
    for path, wills in groups.items():
        trains = any(wills)
        yield ctx.finding(
            path,
            count=len(wills),
            declared="frozen" if trains else "trainable",
            will="train" if trains else "stay frozen",
        )


@rule(
    "GC203",
    "frozen-flag-not-recorded",
    severity=Severity.INFO,
    message="{count} layer(s) under {path}: the file does not record whether {path} is "
    "trainable",
)
def frozen_flag_not_recorded(ctx: RuleContext) -> Iterator[Finding]:
    """A submodel's `trainable` flag is not recorded in the file.

    ## What it finds
    Layers with weights inside a nested model whose config has no `trainable`
    key (Keras 2 Sequential configs, and Keras 2.2-2.8 nested models, omit it)
    while their own flags say `trainable=True`, so the file cannot say whether
    the container was frozen. One finding per submodel.

    ## Why is this bad?
    Whether the layers were frozen when the model was saved is lost: the
    loaded model trains them all, which may or may not be what the author did.
    The report's frozen counts for these layers are "unknown".

    ## Example
    ```python
    base = tf_keras.Sequential([tf_keras.layers.Dense(8)])
    model = tf_keras.Sequential([base, tf_keras.layers.Dense(1)])
    model.save("model.h5")   # the nested Sequential's flag is not stored
    ```
    (When a container is frozen, tf_keras also writes `trainable: false` on
    each of its layers, so those layers are known to be frozen.)

    ## Use instead
    Save with Keras 3 (`.keras`), which records every container flag, or set
    the flags explicitly after loading.
    """
    submodels = ctx.analysis.graph.submodels
    groups: dict[str, int] = {}
    for path, state in ctx.analysis.frozen.calls.items():
        if state.frozen is not None or state.has_weights is False:
            continue
        call = ctx.analysis.graph.call(path)
        unknown = [site for site in call.submodels if submodels[site].layer.trainable is None]
        if unknown:
            groups[unknown[-1]] = groups.get(unknown[-1], 0) + 1
    for path, count in groups.items():
        yield ctx.finding(path, count=count)
