"""The files of a KerasHub preset folder: the names ``from_preset`` reads.

One home for the layout, read by the local preset reader and by the hub fetcher
(``keras_hub/src/utils/preset_utils.py`` spells the same names). Imports nothing of graphcheck.
"""

from __future__ import annotations

from typing import Any

from graphcheck.layers import HUB_PACKAGES

__all__ = [
    "ASSETS_DIR", "CONFIG_FILE", "CONFIG_FILES", "JSON_DOCUMENTS",
    "METADATA_FILE", "TASK_FILE", "WEIGHTS_FILES", "WEIGHTS_INDEX", "is_hub_config",
]

CONFIG_FILE = "config.json"
METADATA_FILE = "metadata.json"
TASK_FILE = "task.json"
#: The sharded weights' index: shard file name per variable.
WEIGHTS_INDEX = "model.weights.json"
ASSETS_DIR = "assets"
WEIGHTS_FILES = ("model.weights.h5", "task.weights.h5")
#: The JSON configs ``from_preset`` deserialises besides ``metadata.json``.
JSON_DOCUMENTS = (
    CONFIG_FILE, TASK_FILE, "preprocessor.json", "tokenizer.json", "audio_converter.json",
    "image_converter.json", "video_converter.json", WEIGHTS_INDEX,
)
#: Every top-level JSON file ``from_preset`` reads.
CONFIG_FILES = (CONFIG_FILE, METADATA_FILE, *JSON_DOCUMENTS[1:])


def is_hub_config(document: Any) -> bool:
    """True for a decoded JSON object that serialises a KerasHub object: its
    ``registered_name`` or ``module`` is in a KerasHub package."""
    if not isinstance(document, dict):
        return False
    for key, separator in (("registered_name", ">"), ("module", ".")):
        value = document.get(key)
        if isinstance(value, str) and value.split(separator, 1)[0] in HUB_PACKAGES:
            return True
    return False
