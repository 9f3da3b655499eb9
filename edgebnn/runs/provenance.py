"""What a model keeps of the run that trained it: the data spec, the seed and fractions that
split it, the image size and the algorithm. A `.ebnn` or ONNX file stores it as the `training`
entry of its metadata, so every backend (PyTorch, C core, onnxruntime, a board) rebuilds the
same held-out split as the training did; this is the one place that writes and reads that
entry and that knows its defaults (those of TrainConfig)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from edgebnn import data
from edgebnn import format as fmt
from edgebnn.errors import UsageError
from edgebnn.runs.config import TrainConfig


#: (entry, the Python types its JSON value may have, what to say is expected) of `training`
_ENTRY_TYPES = (("data", (str, type(None)), "a string or null"), ("seed", int, "an integer"),
                ("val_fraction", (int, float), "a number"),
                ("test_fraction", (int, float), "a number"),
                ("image_size", (int, type(None)), "an integer or null"),
                ("algo", (str, type(None)), "a string or null"))


@dataclass(frozen=True)
class Provenance:
    """How a model's training chose its data; `splits` rebuilds them."""

    data: str | None = None          # None: not stored (a model exported without a run)
    seed: int = TrainConfig.seed
    val_fraction: float = TrainConfig.val_fraction
    test_fraction: float = TrainConfig.test_fraction
    image_size: int | None = TrainConfig.image_size
    algo: str | None = None

    @classmethod
    def of_config(cls, config: TrainConfig) -> Provenance:
        return cls(config.data, config.seed, config.val_fraction, config.test_fraction,
                   config.image_size, config.algo)

    @classmethod
    def from_meta(cls, training: object, source: str | None = None,
                  field: str = "meta") -> Provenance:
        """From a model file's `training` metadata; missing entries take the defaults. A file
        is anyone's to edit, so each entry's JSON type is checked: FormatError naming `source`,
        the metadata (`field`) and the entry otherwise."""
        def fail(entry: str, expected: str, value: object) -> fmt.FormatError:
            return fmt.FormatError(entry, file=source, field=field, expected=expected,
                                   found=fmt.json_type(value))

        if not isinstance(training, dict):
            raise fail("training", "an object", training)
        for key, kinds, expected in _ENTRY_TYPES:
            value = training.get(key)
            if key in training and not (isinstance(value, kinds) and not isinstance(value, bool)):
                raise fail(f"training.{key}", expected, value)
        default = cls()
        return cls(training.get("data"), training.get("seed", default.seed),
                   training.get("val_fraction", default.val_fraction),
                   training.get("test_fraction", default.test_fraction),
                   training.get("image_size", default.image_size), training.get("algo"))

    @classmethod
    def of_model(cls, model: fmt.Model) -> Provenance:
        return cls.from_meta(model.meta.get("training", {}), model.source or None)

    def to_meta(self) -> dict[str, Any]:
        """The `training` metadata an exported model carries."""
        return {"data": self.data, "seed": self.seed, "algo": self.algo,
                "val_fraction": self.val_fraction, "test_fraction": self.test_fraction,
                "image_size": self.image_size}

    def rebuild(self, limit: int | None = None) -> data.Splits:
        """The splits the training used (`limit` as `edgebnn train --limit`)."""
        return data.load(self.data, image_size=self.image_size, seed=self.seed,
                         val_fraction=self.val_fraction, test_fraction=self.test_fraction,
                         limit=limit)

    def splits(self, source: object, data_spec: str | None = None, seed: int | None = None,
               limit: int | None = None) -> data.Splits:
        """`rebuild` with the data spec and seed a user gave (`--data`, `--seed`) in place of
        the stored ones; UsageError naming `source` (the model) when no data spec is known."""
        spec = data_spec or self.data
        if not spec:
            raise UsageError("no data spec stored in the model; pass --data", file=source)
        return replace(self, data=spec, seed=self.seed if seed is None else seed).rebuild(limit)
