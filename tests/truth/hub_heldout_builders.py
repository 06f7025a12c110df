"""More tiny KerasHub models, one per family, for the held-out --rebuild truth tests.

Each builder constructs a task (or a Functional head on a backbone) from a small
config, in-process: no downloads, no preprocessor, no tokenizer vocabulary. With
``frozen=True`` the backbone is frozen (``backbone.trainable = False``), the
transfer-learning set-up graphcheck's questions are about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras


def _hub() -> Any:
    import keras_hub

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    return keras_hub


def _task(task: Any, backbone: Any, frozen: bool) -> Any:
    if frozen:
        backbone.trainable = False
    return task


def _preprocessorless_task(
    backbone_class: str, task_class: str, frozen: bool, **config: Any
) -> Any:
    """A KerasHub task of ``task_class`` without a preprocessor, on a tiny
    ``backbone_class`` built from ``config``."""
    hub = _hub()
    backbone = getattr(hub.models, backbone_class)(**config)
    task = getattr(hub.models, task_class)(backbone, preprocessor=None)
    return _task(task, backbone, frozen)


_TEXT: dict[str, Any] = {
    "vocabulary_size": 50, "num_layers": 2, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16,
}


def distilbert_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.DistilBertBackbone(**_TEXT, dropout=0.1, max_sequence_length=16)
    task = hub.models.DistilBertTextClassifier(backbone, num_classes=2, preprocessor=None)
    return _task(task, backbone, frozen)


def roberta_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.RobertaBackbone(**_TEXT, dropout=0.1, max_sequence_length=16)
    task = hub.models.RobertaTextClassifier(backbone, num_classes=2, preprocessor=None)
    return _task(task, backbone, frozen)


def deberta_v3_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.DebertaV3Backbone(
        **_TEXT, dropout=0.1, max_sequence_length=16, bucket_size=4
    )
    task = hub.models.DebertaV3TextClassifier(backbone, num_classes=2, preprocessor=None)
    return _task(task, backbone, frozen)


def albert_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.AlbertBackbone(
        vocabulary_size=50, num_layers=2, num_heads=2, embedding_dim=8, hidden_dim=8,
        intermediate_dim=16, dropout=0.1, max_sequence_length=16,
    )
    task = hub.models.AlbertTextClassifier(backbone, num_classes=2, preprocessor=None)
    return _task(task, backbone, frozen)


def electra_head(frozen: bool) -> Any:
    """ELECTRA has no classifier task: a Functional head on its pooled output."""
    hub = _hub()
    backbone = hub.models.ElectraBackbone(
        vocab_size=50, num_layers=2, num_heads=2, hidden_dim=8, embedding_dim=8,
        intermediate_dim=16, dropout=0.1, max_sequence_length=16,
    )
    if frozen:
        backbone.trainable = False
    inputs = {
        "token_ids": keras.Input(shape=(None,), dtype="int32", name="token_ids"),
        "segment_ids": keras.Input(shape=(None,), dtype="int32", name="segment_ids"),
        "padding_mask": keras.Input(shape=(None,), dtype="int32", name="padding_mask"),
    }
    pooled = backbone(inputs)["pooled_output"]
    x = keras.layers.Dropout(0.3, name="head_dropout")(pooled)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x), name="electra_head")


def roberta_masked_lm(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.RobertaBackbone(**_TEXT, dropout=0.1, max_sequence_length=16)
    task = hub.models.RobertaMaskedLM(backbone, preprocessor=None)
    return _task(task, backbone, frozen)


def gemma_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task(
        "GemmaBackbone", "GemmaCausalLM", frozen,
        vocabulary_size=50, num_layers=2, num_query_heads=2, num_key_value_heads=1,
        hidden_dim=8, intermediate_dim=16, head_dim=4, dropout=0.1,
    )


def llama_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task(
        "LlamaBackbone", "LlamaCausalLM", frozen,
        vocabulary_size=50, num_layers=2, num_query_heads=2, hidden_dim=8,
        intermediate_dim=16, num_key_value_heads=1, dropout=0.1,
    )


def mistral_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task(
        "MistralBackbone", "MistralCausalLM", frozen,
        vocabulary_size=50, num_layers=2, num_query_heads=2, hidden_dim=8,
        intermediate_dim=16, num_key_value_heads=1, sliding_window=8, dropout=0.1,
    )


def qwen_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task(
        "QwenBackbone", "QwenCausalLM", frozen,
        vocabulary_size=50, num_layers=2, num_query_heads=2, num_key_value_heads=1,
        hidden_dim=8, intermediate_dim=16, dropout=0.1,
    )


def opt_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task(
        "OPTBackbone", "OPTCausalLM", frozen,
        **_TEXT, dropout=0.1, max_sequence_length=16
    )


def bart_seq2seq(frozen: bool) -> Any:
    return _preprocessorless_task(
        "BartBackbone", "BartSeq2SeqLM", frozen,
        **_TEXT, dropout=0.1, max_sequence_length=16
    )


def t5_seq2seq(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.T5Backbone(**_TEXT, key_value_dim=4, dropout=0.1)
    return _task(hub.models.T5Seq2SeqLM(backbone, preprocessor=None), backbone, frozen)


_IMAGE = (16, 16, 3)


def resnet_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 8],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        image_shape=_IMAGE,
    )
    task = hub.models.ResNetImageClassifier(backbone, num_classes=2, dropout=0.2)
    return _task(task, backbone, frozen)


def efficientnet_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.EfficientNetBackbone(
        stackwise_width_coefficients=[1.0, 1.0], stackwise_depth_coefficients=[1.0, 1.0],
        stackwise_kernel_sizes=[3, 3], stackwise_num_repeats=[1, 1],
        stackwise_input_filters=[8, 8], stackwise_output_filters=[8, 8],
        stackwise_expansion_ratios=[1, 2], stackwise_squeeze_and_excite_ratios=[0.25, 0.25],
        stackwise_strides=[1, 2], stackwise_block_types=["v1", "v1"],
        stackwise_force_input_filters=[0, 0], stackwise_nores_option=[False, False],
        dropout=0.2, input_shape=_IMAGE, num_features=16,
    )
    task = hub.models.EfficientNetImageClassifier(backbone, num_classes=2, dropout=0.2)
    return _task(task, backbone, frozen)


def mobilenet_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.MobileNetBackbone(
        stackwise_expansion=[[1], [2]], stackwise_num_blocks=[1, 1],
        stackwise_num_filters=[[8], [8]], stackwise_kernel_size=[[3], [3]],
        stackwise_num_strides=[[2], [1]], stackwise_se_ratio=[[0.25], [0.25]],
        stackwise_activation=[["relu"], ["hard_swish"]], stackwise_padding=[[1], [1]],
        output_num_filters=16, depthwise_filters=8, depthwise_stride=2,
        depthwise_residual=False, last_layer_filter=16, image_shape=_IMAGE,
        input_num_filters=8,
    )
    task = hub.models.MobileNetImageClassifier(backbone, num_classes=2, num_features=16)
    return _task(task, backbone, frozen)


def densenet_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.DenseNetBackbone([1, 1], image_shape=_IMAGE, growth_rate=4)
    task = hub.models.DenseNetImageClassifier(backbone, num_classes=2, dropout=0.2)
    return _task(task, backbone, frozen)


def vgg_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.VGGBackbone([1, 1], [4, 8], image_shape=(32, 32, 3))
    task = hub.models.VGGImageClassifier(
        backbone, num_classes=2, pooling="flatten", pooling_hidden_dim=8, dropout=0.2
    )
    return _task(task, backbone, frozen)


def vit_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.ViTBackbone(
        image_shape=_IMAGE, patch_size=8, num_layers=1, num_heads=2, hidden_dim=8,
        mlp_dim=16, dropout_rate=0.1, attention_dropout=0.1,
    )
    task = hub.models.ViTImageClassifier(backbone, num_classes=2, dropout=0.2)
    return _task(task, backbone, frozen)


def deit_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.DeiTBackbone(
        image_shape=_IMAGE, patch_size=8, num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, dropout_rate=0.1, attention_dropout=0.1,
    )
    task = hub.models.DeiTImageClassifier(backbone, num_classes=2, dropout=0.2)
    return _task(task, backbone, frozen)


def _pooled_head(backbone: Any, frozen: bool, name: str, inputs: Any = None) -> Any:
    if frozen:
        backbone.trainable = False
    inputs = inputs if inputs is not None else keras.Input(shape=_IMAGE, name="image")
    x = backbone(inputs)
    if len(x.shape) == 3:
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    elif len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.3, name="head_dropout")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x), name=name)


def dinov2_head(frozen: bool) -> Any:
    """DINOv2 under a Functional head. Its drop path is left at 0: with a rate, KerasHub
    0.32's DINOV2DropPath cannot run under TensorFlow (noise shape (None, 1, 1))."""
    hub = _hub()
    backbone = hub.models.DINOV2Backbone(
        patch_size=8, num_layers=1, hidden_dim=8, num_heads=2, intermediate_dim=16,
        dropout_rate=0.1, image_shape=_IMAGE,
        position_embedding_shape=_IMAGE,
    )
    return _pooled_head(backbone, frozen, "dinov2_head")


def clip_vision_head(frozen: bool) -> Any:
    hub = _hub()
    encoder = hub.models.CLIPVisionEncoder(
        patch_size=8, hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16,
        image_shape=_IMAGE,
    )
    return _pooled_head(encoder, frozen, "clip_vision_head")


def clip_backbone(frozen: bool) -> Any:
    hub = _hub()
    vision = hub.models.CLIPVisionEncoder(
        patch_size=8, hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16,
        image_shape=_IMAGE,
    )
    text = hub.models.CLIPTextEncoder(
        vocabulary_size=50, embedding_dim=8, hidden_dim=8, num_layers=1, num_heads=2,
        intermediate_dim=16, max_sequence_length=8,
    )
    model = hub.models.CLIPBackbone(vision, text, projection_dim=8)
    if frozen:
        vision.trainable = False
    return model


def siglip_vision_head(frozen: bool) -> Any:
    hub = _hub()
    encoder = hub.models.SigLIPVisionEncoder(
        patch_size=8, hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16,
        image_shape=_IMAGE,
    )
    return _pooled_head(encoder, frozen, "siglip_vision_head")


def swin_classifier(frozen: bool) -> Any:
    """Swin: drop path in every block, its own DropPath layer."""
    hub = _hub()
    backbone = hub.models.SwinTransformerBackbone(
        image_shape=_IMAGE, embed_dim=8, depths=[1], num_heads=[2], window_size=2,
        patch_size=4, dropout_rate=0.1, attention_dropout=0.1, drop_path=0.2,
    )
    task = hub.models.SwinTransformerImageClassifier(backbone, num_classes=2)
    return _task(task, backbone, frozen)


def segformer_segmenter(frozen: bool) -> Any:
    """SegFormer on a tiny MiT encoder (drop path in its blocks)."""
    hub = _hub()
    encoder = hub.models.MiTBackbone(
        layerwise_depths=[1, 1], num_layers=2, layerwise_num_heads=[1, 1],
        layerwise_sr_ratios=[2, 1], max_drop_path_rate=0.2, layerwise_patch_sizes=[3, 3],
        layerwise_strides=[2, 2], image_shape=_IMAGE, hidden_dims=[4, 8],
    )
    backbone = hub.models.SegFormerBackbone(image_encoder=encoder, projection_filters=8)
    task = hub.models.SegFormerImageSegmenter(backbone, num_classes=2)
    return _task(task, backbone, frozen)


FAMILIES: dict[str, Callable[[bool], Any]] = {
    f.__name__: f
    for f in (
        distilbert_classifier, roberta_classifier, deberta_v3_classifier, albert_classifier,
        electra_head, roberta_masked_lm, gemma_causal_lm, llama_causal_lm, mistral_causal_lm,
        qwen_causal_lm, opt_causal_lm, bart_seq2seq, t5_seq2seq, resnet_classifier,
        efficientnet_classifier, mobilenet_classifier, densenet_classifier, vgg_classifier,
        vit_classifier, deit_classifier, dinov2_head, clip_vision_head, clip_backbone,
        siglip_vision_head, swin_classifier, segformer_segmenter,
    )
}


def xlm_roberta_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.XLMRobertaBackbone(**_TEXT, dropout=0.1, max_sequence_length=16)
    task = hub.models.XLMRobertaTextClassifier(
        backbone, num_classes=2, preprocessor=None, dropout=0.2
    )
    return _task(task, backbone, frozen)


def fnet_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.FNetBackbone(
        vocabulary_size=50, num_layers=2, hidden_dim=8, intermediate_dim=16, dropout=0.1,
        max_sequence_length=16,
    )
    task = hub.models.FNetTextClassifier(backbone, num_classes=2, preprocessor=None)
    return _task(task, backbone, frozen)


def esm_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.ESMBackbone(**_TEXT, dropout=0.1, max_sequence_length=16)
    task = hub.models.ESMProteinClassifier(backbone, num_classes=2, preprocessor=None, dropout=0.2)
    return _task(task, backbone, frozen)


def gpt_neox_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task(
        "GPTNeoXBackbone", "GPTNeoXCausalLM", frozen,
        **_TEXT, dropout=0.1, rotary_percentage=0.5, max_sequence_length=16
    )


def falcon_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task(
        "FalconBackbone", "FalconCausalLM", frozen,
        vocabulary_size=50, num_layers=2, num_attention_heads=2, hidden_dim=8,
        intermediate_dim=16, attention_dropout_rate=0.1, feedforward_dropout_rate=0.1,
    )


def bloom_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task("BloomBackbone", "BloomCausalLM", frozen, **_TEXT, dropout=0.1)


def phi3_causal_lm(frozen: bool) -> Any:
    return _preprocessorless_task(
        "Phi3Backbone", "Phi3CausalLM", frozen,
        vocabulary_size=50, num_layers=2, hidden_dim=8, intermediate_dim=16,
        num_query_heads=2, num_key_value_heads=1, dropout=0.1, max_sequence_length=16,
    )


def xception_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.XceptionBackbone(
        stackwise_conv_filters=[[4, 8], [8, 8]], stackwise_pooling=[False, True],
        image_shape=(32, 32, 3),
    )
    task = hub.models.XceptionImageClassifier(backbone, num_classes=2, dropout=0.2)
    return _task(task, backbone, frozen)


def cspnet_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.CSPNetBackbone(
        stem_filters=8, stem_kernel_size=3, stem_strides=2, stackwise_depth=[1, 1],
        stackwise_strides=[1, 2], stackwise_num_filters=[8, 8], block_type="bottleneck_block",
        stage_type="csp",
        image_shape=(32, 32, 3),
    )
    task = hub.models.CSPNetImageClassifier(backbone, num_classes=2, dropout=0.2)
    return _task(task, backbone, frozen)


def mit_classifier(frozen: bool) -> Any:
    hub = _hub()
    backbone = hub.models.MiTBackbone(
        layerwise_depths=[1, 1], num_layers=2, layerwise_num_heads=[1, 1],
        layerwise_sr_ratios=[2, 1], max_drop_path_rate=0.2, layerwise_patch_sizes=[3, 3],
        layerwise_strides=[2, 2], image_shape=_IMAGE, hidden_dims=[4, 8],
    )
    task = hub.models.MiTImageClassifier(backbone, num_classes=2, dropout=0.2)
    return _task(task, backbone, frozen)


def deeplab_v3_segmenter(frozen: bool) -> Any:
    hub = _hub()
    encoder = hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 8],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        image_shape=_IMAGE,
    )
    backbone = hub.models.DeepLabV3Backbone(
        image_encoder=encoder, spatial_pyramid_pooling_key="P3", upsampling_size=2,
        dilation_rates=[1, 2], low_level_feature_key="P2", projection_filters=8,
        image_shape=_IMAGE,
    )
    task = hub.models.DeepLabV3ImageSegmenter(backbone, num_classes=2)
    return _task(task, backbone, frozen)


def sam_segmenter(frozen: bool) -> Any:
    hub = _hub()
    encoder = hub.models.ViTDetBackbone(
        hidden_size=8, num_layers=1, intermediate_dim=16, num_heads=2,
        global_attention_layer_indices=[0], image_shape=(32, 32, 3), patch_size=8,
        num_output_channels=8, window_size=2,
    )
    prompt = hub.layers.SAMPromptEncoder(
        hidden_size=8, image_embedding_size=(4, 4), input_image_size=(32, 32), mask_in_channels=4
    )
    decoder = hub.layers.SAMMaskDecoder(
        hidden_size=8, num_layers=1, intermediate_dim=16, num_heads=2, embedding_dim=8,
        iou_head_hidden_dim=8,
    )
    backbone = hub.models.SAMBackbone(encoder, prompt, decoder)
    if frozen:
        encoder.trainable = False
    return hub.models.SAMImageSegmenter(backbone)


FAMILIES.update(
    {
        f.__name__: f
        for f in (
            xlm_roberta_classifier, fnet_classifier, esm_classifier, gpt_neox_causal_lm,
            falcon_causal_lm, bloom_causal_lm, phi3_causal_lm, xception_classifier,
            cspnet_classifier, mit_classifier, deeplab_v3_segmenter, sam_segmenter,
        )
    }
)
