"""GC420-GC421: load safety of what a KerasHub loader reads beside the configs.

``from_preset`` reads the files of a preset folder (configs, weights, the
tokenizer's ``assets/``) and a KerasHub tokenizer reads the vocabulary, merges or
SentencePiece proto its config names. The preset reader notes the files
(``preset-link``, ``preset-path``, ``preset-size``; see ``readers/preset.py``);
these rules say what a loader would do with them. Both are in the ``load-safety``
group and need no layer graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphcheck.findings import Finding, Severity
from graphcheck.layers import HUB_PACKAGES
from graphcheck.readers.source import is_mapping
from graphcheck.rules import RuleContext, rule
from graphcheck.rules.load_safety import container_findings, exposure

__all__ = ["TOKENIZER_FILE_KEYS"]

GROUP = ("load-safety",)

#: The config keys a KerasHub tokenizer opens as a file when they hold a string
#: (WordPiece and BytePair ``vocabulary``, BytePair ``merges``, SentencePiece ``proto``).
TOKENIZER_FILE_KEYS = ("vocabulary", "merges", "proto")


@rule(
    "GC420",
    "unsafe-preset-file",
    severity=Severity.ERROR,
    message="preset file {where!r}: {detail}{advice}",
    groups=GROUP,
    needs_graph=False,
)
def unsafe_preset_file(ctx: RuleContext) -> Iterator[Finding]:
    """A KerasHub preset file that is a link out of the preset, not a file, or absurdly large.

    ## What it finds
    In a KerasHub preset folder: files (configs, weights, `assets/`) that are
    symbolic links resolving outside the preset (or nowhere), entries that are not
    regular files (FIFOs, devices), assets larger than 1 GiB, and folders with
    more than 10,000 files.

    ## Why is this bad?
    `from_preset` opens `config.json`, `task.json`, the weights and the tokenizer's
    vocabulary by name inside the folder: a link makes it read any host file
    readable by the process (`assets/tokenizer/vocabulary.txt -> ~/.ssh/id_rsa`
    becomes the vocabulary, and its lines leak through the tokenizer), a FIFO or
    device blocks the loader for ever, and an asset is read whole into memory.
    `save_to_preset` writes none of these.

    ## Example
    ```sh
    ln -s /etc/passwd preset/assets/tokenizer/vocabulary.txt
    ```

    ## Use instead
    Save the preset with `task.save_to_preset(dir)` and publish the folder's
    files as they are, without links.
    """
    yield from container_findings(ctx, "preset-link", "preset-path", "preset-size")


@rule(
    "GC421",
    "tokenizer-file-path",
    severity=Severity.ERROR,
    message="{where} ({class_name}) names {key} file {target!r}: KerasHub reads that "
    "host file or URL when it builds the tokenizer with safe_mode off{advice}",
    groups=GROUP,
    needs_graph=False,
)
def tokenizer_file_path(ctx: RuleContext) -> Iterator[Finding]:
    """A KerasHub tokenizer whose vocabulary, merges or proto is a file path.

    ## What it finds
    KerasHub tokenizers (in `tokenizer.json`, `preprocessor.json`, `task.json` or a
    `.keras` config) whose stored `vocabulary`, `merges` or `proto` is a string.
    `save_to_preset` and `model.save` store `null` there and keep the vocabulary
    in the preset's `assets/` or the archive.

    ## Why is this bad?
    A tokenizer given a string opens it as a file: any host file (or `gs://` URL
    through `tf.io.gfile`) becomes the vocabulary, and its lines leak through the
    token ids. KerasHub refuses it in safe mode, but not when the model is loaded
    with `safe_mode=False` or `keras.config.enable_unsafe_deserialization()`.

    ## Example
    ```json
    {"class_name": "BertTokenizer", "module": "keras_hub.src.models.bert.bert_tokenizer",
     "config": {"vocabulary": "/etc/passwd"}}
    ```

    ## Use instead
    Save the tokenizer with `save_to_preset` (or `model.save`), which keeps the
    vocabulary as an asset.
    """
    for item in ctx.walk.objects:
        value = item.value
        config = value.get("config")
        # The keys first: few objects store one, and the class test costs more.
        if (
            not is_mapping(config)
            or config.keys().isdisjoint(TOKENIZER_FILE_KEYS)
            or not _is_hub_tokenizer(value)
        ):
            continue
        for key in TOKENIZER_FILE_KEYS:
            target = config.get(key)
            if isinstance(target, str):
                where = item.document
                if item.layer:
                    where += f" {item.layer}"
                yield ctx.finding(
                    item.layer, where=where, class_name=value.get("class_name"), key=key,
                    target=target, advice=exposure(ctx, ctx.rule.id),
                )


def _is_hub_tokenizer(value: Mapping[str, Any]) -> bool:
    """A KerasHub (keras_nlp) class that reads a vocabulary: a tokenizer by its name,
    or any class from those packages that stores one of the file keys."""
    name = value.get("class_name")
    if not isinstance(name, str):
        return False
    marks = [value.get(key) for key in ("module", "registered_name")]
    packages = [m.replace(">", ".").split(".", 1)[0] for m in marks if isinstance(m, str)]
    if packages:  # a class that names its package: KerasHub's only
        return all(p in HUB_PACKAGES for p in packages)
    return name.endswith("Tokenizer")
