"""Model builders by name. A run folder stores the spec (name + arguments), so a model can be
rebuilt from it without pickling code."""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from edgebnn.models.local_chain import local_chain
from edgebnn.models.mixer import mixer
from edgebnn.models.mlp import mlp
from edgebnn.models.mobilenetv2 import mobilenetv2
from edgebnn.models.resnet import resnet18
from edgebnn.models.vgg import vgg19, vgg_small
from edgebnn.nn.ablation import set_binarization
from edgebnn.errors import UsageError

Builder = Callable[..., nn.Sequential]

#: `cnn` is the small VGG under its original name (existing run folders and docs use it)
MODELS: dict[str, Builder] = {"mlp": mlp, "vgg": vgg19, "vgg_small": vgg_small, "cnn": vgg_small,
                              "resnet18": resnet18, "mobilenetv2": mobilenetv2, "mixer": mixer}
#: trained by --algo local (which builds it from an `mlp` spec): edgebnn/models/local_chain.py
MODELS["local_chain"] = local_chain
#: the models with skip connections, which take `remove_skips`
RESIDUAL = ("resnet18", "mobilenetv2", "mixer")


def build_model(name: str, input_shape: tuple[int, int, int], n_classes: int,
                binarize: str = "both", **kwargs: Any) -> nn.Sequential:
    """input_shape is (H, W, C) of the 8-bit images. `binarize` (both | weights | acts | none)
    selects the partial-binarization ablation (edgebnn/nn/ablation.py) for any model but the
    `local` rule's chain, whose integer weights have no float form."""
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}, expected one of {', '.join(MODELS)}")
    if kwargs.get("remove_skips") and name not in RESIDUAL:
        raise UsageError(f"remove_skips: model {name!r} has no skip connections (only "
                         f"{', '.join(RESIDUAL)} have)")
    if "depthwise" in kwargs and name != "mobilenetv2":
        raise UsageError(f"depthwise: model {name!r} has no depthwise convolutions (only "
                         "mobilenetv2 has)")
    if binarize != "both" and name == "local_chain":
        raise UsageError(f"binarize is {binarize!r}: the local rule's chain is binary only")
    return set_binarization(MODELS[name](tuple(input_shape), n_classes, **kwargs), binarize)


def build_from_spec(spec: dict[str, Any]) -> nn.Sequential:
    return build_model(spec["name"], spec["input_shape"], spec["n_classes"], **spec["kwargs"])
