"""--rebuild's gate: what it refuses to construct without --trust-model (no Keras needed)."""

from __future__ import annotations

import pytest

from graphcheck.runtime.rebuild import rebuild_refusals


class TestRebuildRefusals:
    def test_keras_and_keras_hub_classes_pass(self) -> None:
        """Classes from keras and keras_hub modules, and registered keras_hub names, pass."""
        config = {
            "module": "keras_hub.src.models.bert.bert_text_classifier",
            "class_name": "BertTextClassifier",
            "registered_name": "keras_hub>BertTextClassifier",
            "config": {"backbone": {"module": "keras_hub.src.models.bert.bert_backbone",
                                    "class_name": "BertBackbone", "config": {}},
                       "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {}}},
        }
        assert rebuild_refusals(config) == []

    @pytest.mark.parametrize(
        ("entry", "expected"),
        [
            ({"module": "os", "class_name": "system", "config": {}}, "module 'os'"),
            ({"module": "keras.layers", "class_name": "Lambda", "config": {}}, "stored code"),
            ({"class_name": "__lambda__", "config": {"code": "..."}}, "stored code"),
            ({"module": None, "class_name": "MyNet", "registered_name": "mine>MyNet",
              "config": {}}, "custom class mine>MyNet"),
            ({"module": "keras_hubx.evil", "class_name": "X", "config": {}}, "keras_hubx"),
        ],
    )
    def test_code_and_foreign_classes_are_refused_at_any_depth(self, entry: dict, expected: str) -> None:
        """Code and classes outside the Keras family are found however deep they sit."""
        config = {"module": "keras", "class_name": "Functional",
                  "config": {"layers": [{"module": "keras.layers", "class_name": "Wrapper",
                                         "config": {"layer": entry}}]}}
        found = rebuild_refusals(config)
        assert len(found) == 1 and expected in found[0]


def _keras_zip(path: object, config: dict) -> None:
    import json
    import zipfile

    with zipfile.ZipFile(str(path), "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))


class TestRebuildModelRefuses:
    def test_load_safety_findings_refuse_before_keras_is_involved(self, tmp_path: object) -> None:
        """A subclassed config naming os.system as an activation is refused by the GC4xx rules."""
        from pathlib import Path

        from graphcheck.errors import RebuildError
        from graphcheck.runtime.rebuild import RebuildOptions, rebuild_model

        path = Path(str(tmp_path)) / "evil.keras"
        evil = {"module": "os", "class_name": "function", "config": "system",
                "registered_name": "function"}
        _keras_zip(path, {
            "module": "keras_hub.src.models.bert.bert_backbone", "class_name": "BertBackbone",
            "registered_name": "keras_hub>BertBackbone",
            "config": {"name": "b", "activation": evil},
        })
        with pytest.raises(RebuildError, match="load-safety rules: GC4"):
            rebuild_model(path, RebuildOptions())


@pytest.mark.keras
class TestRebuildSaysWhatToDo:
    """The two common mistakes past the gate name the fix, in one line."""

    @pytest.fixture
    def without_keras_hub(self, monkeypatch: pytest.MonkeyPatch) -> str:
        """keras_hub cannot be imported; the KerasHub sample's path."""
        pytest.importorskip("keras")
        from graphcheck.runtime import loading
        from tests.paths import ROOT

        real = loading.import_quietly

        def import_quietly(package: str) -> object:
            if package == "keras_hub":
                raise ImportError("No module named 'keras_hub'")
            return real(package)

        monkeypatch.setattr(loading, "import_quietly", import_quietly)
        return str(ROOT / "samples/rebuild/bert_frozen_classifier.keras")

    def test_keras_hub_not_installed_names_the_package_to_install(
        self, without_keras_hub: str
    ) -> None:
        """A KerasHub file without keras_hub: exit 4 (a missing tool) and the pip command."""
        from graphcheck.errors import EXIT_MISSING_DEPENDENCY, MissingDependencyError
        from graphcheck.runtime.rebuild import RebuildOptions, rebuild_model

        with pytest.raises(MissingDependencyError) as caught:
            rebuild_model(without_keras_hub, RebuildOptions())
        assert "rebuild=True needs keras_hub" in str(caught.value)  # worded for Python
        assert "pip install keras-hub" in str(caught.value)
        assert caught.value.exit_code == EXIT_MISSING_DEPENDENCY

    def test_check_exits_4_for_a_missing_package_as_every_command_does(
        self, without_keras_hub: str
    ) -> None:
        """check --rebuild without keras_hub: the one line, and exit 4 (not 3, unreadable)."""
        from click.testing import CliRunner

        from graphcheck.cli import main
        from graphcheck.errors import EXIT_MISSING_DEPENDENCY

        result = CliRunner().invoke(main, ["check", "--rebuild", without_keras_hub])
        assert result.exit_code == EXIT_MISSING_DEPENDENCY, result.output
        assert "--rebuild needs keras_hub" in result.stderr

    def test_trusted_class_nobody_defined_asks_for_custom_objects(self, tmp_path: object) -> None:
        """--trust-model without --custom-objects: the class named, and the flag that defines it."""
        pytest.importorskip("keras")
        from pathlib import Path

        from graphcheck.errors import RebuildError
        from graphcheck.runtime.rebuild import RebuildOptions, rebuild_model

        path = Path(str(tmp_path)) / "mine.keras"
        _keras_zip(path, {"module": None, "class_name": "NotDefinedNet",
                          "registered_name": "mine>NotDefinedNet", "config": {"width": 8}})
        with pytest.raises(RebuildError) as caught:
            rebuild_model(path, RebuildOptions(trust_model=True))
        message = str(caught.value)
        assert "cannot find class" in message and "NotDefinedNet" in message
        assert "RebuildOptions(custom_objects='FILE.py')" in message  # worded for Python
