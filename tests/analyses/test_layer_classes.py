"""Which classes count as Keras's: the file's module/registered_name, else the dialect's list.

The real-Keras proofs are in tests/truth/test_custom_classes_truth.py; these cases
run without Keras and pin the decision rules on stored entries as Keras writes them.
"""

from __future__ import annotations

import pytest

from graphcheck.layers import Stochastic, keras_layer_info, looks_like_dropout, stochastic_spec

KERAS_DROPOUT = ("keras.layers", None)


@pytest.mark.parametrize(
    ("class_name", "dialect", "origin", "known"),
    [
        ("Dropout", "keras3", KERAS_DROPOUT, True),
        (
            "Dense",
            "keras3",
            ("keras.src.layers.core.dense", "Dense"),
            True,
        ),  # as Functional is written
        ("Dropout", "keras3", (None, "Custom>Dropout"), False),  # a user's class named Dropout
        ("Dropout", "keras3", ("my_project.layers", "Dropout"), False),
        ("QDense", "keras3", ("qkeras.qlayers", "qkeras>QDense"), False),
        ("Dense", "keras3", ("keras_hub.src.layers", "keras_hub>Dense"), False),  # not "keras."
        ("Custom>MCDropout", "keras2", None, False),  # tf_keras/Keras 3 .h5: registered name
        ("RandomWeightedAverage", "keras2", None, False),
        ("RandomWeightedAverage", "keras3", None, False),
        (
            "RandomFourierFeatures",
            "keras2",
            None,
            False,
        ),  # deterministic once built; no augmentation
        (
            "RandomGrayscale",
            "keras2",
            None,
            False,
        ),  # Keras 3 only: a user's class in a Keras 2 file
        ("RandomGrayscale", "keras3", None, True),
        ("RandomHeight", "keras2", None, True),
        ("RandomHeight", "keras3", None, False),  # tf_keras only
        ("RandomFlip", "keras1", None, False),  # Keras 1 had no augmentation layers
        ("GroupQueryAttention", "keras3", ("keras.layers", None), True),
        ("GroupQueryAttention", "keras2", None, False),
        # tf_keras's JSON records its op layers' module under tf_keras.src
        ("TFOpLambda", "keras2", ("tf_keras.src.layers.core.tf_op_layer", "TFOpLambda"), True),
        ("Dropout", "keras2", ("tf_keras_extras.layers", "Dropout"), False),  # not "tf_keras."
        # keras.ops operations a Functional graph records (x[:, 0], ops.add)
        ("GetItem", "keras3", ("keras.src.ops.numpy", "GetItem"), True),
        ("Add", "keras3", ("keras.src.ops.numpy", "Add"), True),
        ("GetItem", "keras3", ("keras.src.ops.numpy", "mine>GetItem"), False),
        ("GetItem", "keras3", ("keras_ops_extra.numpy", "GetItem"), False),
        # Keras 3's legacy .h5 drops the module: the name alone may be a user's class
        ("GetItem", "keras3", None, False),
        ("ElasticTransform", "keras3", ("keras.src.ops.image", "ElasticTransform"), False),
        ("GetItem", "keras2", None, False),  # no such op in Keras 2
        # keras.applications' own classes, by the module the file records
        ("LayerScale", "keras3", ("keras.src.applications.convnext", "LayerScale"), True),
        ("LayerScale", "keras2", ("tf_keras.src.applications.convnext", "LayerScale"), True),
        ("CustomScaleLayer", "keras2",
         ("tf_keras.src.applications.inception_resnet_v2", "Custom>CustomScaleLayer"), True),
        ("LayerScale", "keras3", ("keras.src.applications.convnext", "mine>LayerScale"), False),
        ("LayerScale", "keras3", ("my_models.convnext", "LayerScale"), False),
        ("LayerScale", "keras3", ("keras.src.applications.vit", "LayerScale"), False),
        ("LayerScale", "keras3", None, False),  # legacy .h5: no module, a user's name
    ],
)
def test_recognised_only_when_keras_defines_it(
    class_name: str, dialect: str, origin: tuple[str | None, str | None] | None, known: bool
) -> None:
    assert keras_layer_info(class_name, dialect, origin).known is known


def test_keras_ops_hold_no_weights_and_draw_nothing() -> None:
    origin = ("keras.src.ops.numpy", "GetItem")
    assert keras_layer_info("GetItem", "keras3", origin).has_weights is False
    assert stochastic_spec("GetItem", {"name": "get_item"}, "keras3", origin) is None


def test_opaque_classes_inject_nothing_known() -> None:
    """An opaque class gets no stochastic spec, whatever its name and config say."""
    assert stochastic_spec("Dropout", {"rate": 0.5}, "keras3", (None, "Custom>Dropout")) is None
    assert stochastic_spec("RandomWeightedAverage", {}, "keras2") is None
    spec = stochastic_spec("RandomFlip", {"mode": "horizontal"}, "keras3", ("keras.layers", None))
    assert spec is not None and spec.kind is Stochastic.AUGMENTATION


def test_wrapped_custom_layer_is_opaque() -> None:
    """A custom layer inside Bidirectional/TimeDistributed is not read as Keras's either."""
    inner = {
        "module": None,
        "class_name": "Dropout",
        "registered_name": "Custom>Dropout",
        "config": {"rate": 0.5},
    }
    assert stochastic_spec("TimeDistributed", {"layer": inner}, "keras3", KERAS_DROPOUT) is None
    inner.update(module="keras.layers", registered_name=None)
    assert stochastic_spec("TimeDistributed", {"layer": inner}, "keras3", KERAS_DROPOUT) is not None


@pytest.mark.parametrize(
    ("config", "dropout_like"),
    [
        (
            {
                "name": "mc",
                "trainable": True,
                "dtype": "float32",
                "rate": 0.5,
                "seed": None,
                "noise_shape": None,
            },
            True,
        ),
        ({"name": "mc", "rate": 0.5}, True),
        ({"name": "rwa", "trainable": True, "dtype": "float32"}, False),
        ({"name": "x", "rate": 0.5, "units": 3}, False),
        ({"name": "x", "noise_shape": None}, False),  # no rate
    ],
)
def test_looks_like_dropout(config: dict, dropout_like: bool) -> None:
    assert looks_like_dropout(config) is dropout_like
