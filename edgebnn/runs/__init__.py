"""A training run as the rest of edgebnn sees it: `config` (TrainConfig, what defines a run),
`run_folder` (the run folder `edgebnn train --out` writes and everything else reads) and
`provenance` (what an exported model keeps of its run, to rebuild the same data splits).
Below both `train`, which writes runs, and `export`, which reads them (docs/architecture.md)."""
