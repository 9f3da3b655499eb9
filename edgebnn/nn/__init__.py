"""Binary layers for PyTorch whose eval-mode arithmetic the C core reproduces bit for bit."""
from edgebnn.nn.binarize import Sign, binarize
from edgebnn.nn.quantize import quantize_grad, quantize_ste, quantized_sign
from edgebnn.nn.layers import (BatchNorm1d, BatchNorm2d, BinaryConv2d, BinaryLinear,
                               InputConv2d, InputLinear, ScoreLinear, clip_latent_weights)
from edgebnn.nn.stream import GlobalCount, StreamBlock, StreamFromBinary, stream_reader
from edgebnn.nn.ablation import BINARIZE_MODES, float_parts, set_binarization

__all__ = ["Sign", "binarize", "BatchNorm1d", "BatchNorm2d", "BinaryConv2d", "BinaryLinear",
           "InputConv2d", "InputLinear", "ScoreLinear", "clip_latent_weights", "quantize_ste",
           "quantize_grad", "quantized_sign", "GlobalCount", "StreamBlock", "StreamFromBinary",
           "stream_reader",
           "BINARIZE_MODES", "float_parts", "set_binarization"]
