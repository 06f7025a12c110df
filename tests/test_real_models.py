"""Models saved by other people (shared/real-models): read and analysed correctly.

Expectations were read off each file's stored config by hand (see the provenance
table in shared/real-models/README.md).
"""

from __future__ import annotations

import pytest
from helpers import REAL_MODELS

import graphcheck
from graphcheck.errors import UnsupportedModelError

pytestmark = pytest.mark.skipif(not REAL_MODELS.exists(), reason="shared/real-models is not beside this checkout")


def entry(name: str, version: str = "2.21.0") -> dict:
    return graphcheck.analyse(REAL_MODELS / name, keras_version=version)


def stochastic(name: str) -> dict[str, dict]:
    return {item["path"]: item for item in entry(name)["stochastic"]}


class TestKeras1:
    def test_bare_list_sequential_and_dropout_p(self) -> None:
        """Keras 1 Sequential as a bare list; Dropout's `p` is read as the rate."""
        found = stochastic("k1_dl4j_cnn_dropout.h5")
        assert {p: s["rate"] for p, s in found.items()} == {"dropout_1": 0.25, "dropout_2": 0.5}
        assert found["dropout_1"]["masks"][0]["producer"] == "maxpooling2d_1"
        assert entry("k1_dl4j_cnn_dropout.h5")["dialect"] == "keras1"

    def test_lstm_dropout_w_and_u(self) -> None:
        """LSTM dropout_W/dropout_U map to dropout/recurrent_dropout; it masks the model input."""
        found = stochastic("k1_dl4j_lstm_dropoutW.h5")
        assert list(found) == ["lstm_1"]
        assert (found["lstm_1"]["rate"], found["lstm_1"]["recurrent_rate"]) == (0.5, 0.0)
        assert found["lstm_1"]["masks"][0]["is_model_input"]


class TestKeras2:
    def test_alpha_dropout_is_the_model_output(self) -> None:
        """AlphaDropout as the last layer feeds the model output directly."""
        found = stochastic("k2_dl4j_alphadropout.h5")
        assert found["alpha_dropout"]["feeds_output"] is True
        assert found["alpha_dropout"]["masks"][0]["producer"] == "dense_1"

    def test_lstm_internal_dropout(self) -> None:
        """LSTM(dropout=0.2) counts as a stochastic call masking its input."""
        found = stochastic("k2_dl4j_lstm_input_dropout.h5")
        assert found["lstm_1"]["rate"] == 0.2 and found["lstm_1"]["kind"] == "rnn_dropout"

    def test_wgan_four_dropouts_and_batchnorm(self) -> None:
        """Four Dropouts; two BatchNormalization calls use batch statistics only in fit()."""
        result = entry("k2_dl4j_wgan_discriminator.h5")
        assert len(result["stochastic"]) == 4
        assert [m["mode"] for m in result["mode_dependent"]] == [
            {"fit": "batch", "predict": "moving", "call": "moving"}
        ] * 2

    def test_multi_input_lambda_out_of_order(self) -> None:
        """Multi-input deepfm: every Lambda is reported as code; its dropouts are found."""
        result = entry("k2_dl4j_deepfm_multiinput_lambda.h5")
        assert len(result["inputs"]) == 4
        assert len(result["code_layers"]) == 7
        assert {s["path"] for s in result["stochastic"]} == {"dropout_2", "dropout_3"}

    def test_bidirectional_multi_io_without_dropout(self) -> None:
        """Five inputs, several outputs, no dropout: no stochastic calls."""
        result = entry("k2_fdeep_lstm_stateful_multi_io.h5")
        assert result["stochastic"] == []
        assert len(result["outputs"]) > 1

    def test_siamese_shared_sequential_node_index_one(self) -> None:
        """A nested Sequential called twice (Keras 2 node indices 1 and 2) is expanded per call."""
        result = entry("k2_pnnl_siamese_shared_seq_dropout.h5")
        paths = sorted(s["path"] for s in result["stochastic"])
        assert paths == ["sequential@0/dropout", "sequential@0/dropout_1",
                         "sequential@1/dropout", "sequential@1/dropout_1"]
        producers = {s["path"]: s["masks"][0]["producer"] for s in result["stochastic"]}
        assert producers["sequential@1/dropout"] == "sequential@1/max_pooling1d"
        first = next(layer for layer in result["layers"] if layer["path"] == "sequential@1/conv1d")
        assert first["frozen"] is None  # Keras 2.8 does not record the nested model's flag


def test_subclassed_model_has_no_graph() -> None:
    """The Keras 3 subclassed model is refused with a clear error, not guessed at."""
    with pytest.raises(UnsupportedModelError, match="subclassed"):
        graphcheck.load(REAL_MODELS / "k3_keras_subclassed_nested_container.keras")
