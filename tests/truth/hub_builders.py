"""Tiny KerasHub and subclassed Keras 3 models for the --rebuild truth tests.

No downloads: every backbone is constructed from a small config (tiny vocabulary
and hidden size, no preprocessor, so no tokenizer vocabulary file is needed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np


def _keras_hub() -> Any:
    import keras_hub

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    return keras_hub


def _bert(hub: Any) -> Any:
    return hub.models.BertBackbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=16, dropout=0.1,
    )


def bert_classifier_frozen() -> Any:
    """The issue's question: a BertTextClassifier whose backbone is frozen."""
    hub = _keras_hub()
    backbone = _bert(hub)
    model = hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None, dropout=0.2)
    backbone.trainable = False
    return model


def bert_classifier_trainable() -> Any:
    """The same classifier, fine-tuned end to end."""
    hub = _keras_hub()
    return hub.models.BertTextClassifier(_bert(hub), num_classes=2, preprocessor=None, dropout=0.2)


def gpt2_causal_lm() -> Any:
    """A GPT-2 style decoder under its causal-LM task."""
    hub = _keras_hub()
    backbone = hub.models.GPT2Backbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
        dropout=0.1, max_sequence_length=16,
    )
    return hub.models.GPT2CausalLM(backbone, preprocessor=None)


def vit_backbone_frozen() -> Any:
    """A vision transformer backbone, frozen, under a trainable Functional head."""
    hub = _keras_hub()
    backbone = hub.models.ViTBackbone(
        image_shape=(8, 8, 3), patch_size=4, num_layers=1, num_heads=2, hidden_dim=8,
        mlp_dim=16, dropout_rate=0.1, attention_dropout=0.1,
    )
    backbone.trainable = False
    inputs = keras.Input(shape=(8, 8, 3), name="image")
    x = backbone(inputs)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.Dropout(0.3, name="head_dropout")(x)
    outputs = keras.layers.Dense(2, name="head")(x)
    return keras.Model(inputs, outputs, name="vit_head")


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class TwoBranchNet(keras.Model):
    """A keras.Model subclass: its own call, a frozen Functional encoder inside."""

    def __init__(self, width: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.width = width
        enc_in = keras.Input(shape=(width,), name="enc_in")
        h = keras.layers.Dense(width, activation="relu", name="enc_dense")(enc_in)
        h = keras.layers.Dropout(0.4, name="enc_dropout")(h)
        self.encoder = keras.Model(enc_in, h, name="encoder")
        self.encoder.trainable = False
        self.hidden = keras.layers.Dense(width, name="hidden")
        self.drop = keras.layers.Dropout(0.5, name="head_dropout")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x: Any, training: Any = None) -> Any:
        return self.out(self.drop(self.hidden(self.encoder(x)), training=training))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "width": self.width}


def subclassed_model() -> Any:
    """A built keras.Model subclass (needs --trust-model: its class is not Keras's)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = TwoBranchNet(name="two_branch")
    model(np.zeros((1, 8), dtype="float32"))  # builds every sublayer (build() alone does not)
    return model


HUB_BUILDERS: dict[str, Callable[[], Any]] = {
    f.__name__: f
    for f in (bert_classifier_frozen, bert_classifier_trainable, gpt2_causal_lm, vit_backbone_frozen)
}


def bert_classifier_lora() -> Any:
    """backbone.enable_lora(2): kernels frozen, LoRA matrices in query/value trainable."""
    hub = _keras_hub()
    backbone = _bert(hub)
    model = hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None, dropout=0.2)
    backbone.enable_lora(2)
    return model


HUB_BUILDERS["bert_classifier_lora"] = bert_classifier_lora
