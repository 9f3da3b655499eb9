"""Model builders by name. A run folder stores the spec (name + arguments), so a model can be
rebuilt from it without pickling code."""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

from edgebnn.models.cnn import vgg_small
from edgebnn.models.local_chain import local_chain
from edgebnn.models.mlp import mlp

Builder = Callable[..., nn.Sequential]

MODELS: dict[str, Builder] = {"mlp": mlp, "cnn": vgg_small}
#: trained by --algo local (which builds it from an `mlp` spec): edgebnn/models/local_chain.py
MODELS["local_chain"] = local_chain


def build_model(name: str, input_shape: tuple[int, int, int], n_classes: int,
                **kwargs: Any) -> nn.Sequential:
    """input_shape is (H, W, C) of the 8-bit images."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}, expected one of {', '.join(MODELS)}")
    return MODELS[name](tuple(input_shape), n_classes, **kwargs)


def build_from_spec(spec: dict[str, Any]) -> nn.Sequential:
    return build_model(spec["name"], spec["input_shape"], spec["n_classes"], **spec["kwargs"])
