"""The committed test vectors (tests/vectors/) pin the format: the writer reproduces them byte
for byte, and the C core and the NumPy reference compute their recorded scores."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgebnn import format as fmt
from edgebnn import reference
from edgebnn.native import NativeModel
from tests.vectors import make_vectors

VECTORS = Path(make_vectors.__file__).parent


@pytest.mark.parametrize("name", sorted(make_vectors.VECTORS))
def test_vector(name):
    data = (VECTORS / f"{name}.ebnn").read_bytes()
    assert fmt.to_bytes(make_vectors.VECTORS[name]()) == data, "writer output changed"
    recorded = json.loads((VECTORS / f"{name}.json").read_text())
    x = np.array(recorded["inputs"], dtype=np.uint8)
    scores = np.array(recorded["scores"], dtype=np.int32)
    assert np.array_equal(NativeModel(data, name).infer(x), scores)
    assert np.array_equal(reference.infer(fmt.from_bytes(data), x), scores)
    assert len(set(map(tuple, scores))) > 1, "vector inputs should give distinct scores"
