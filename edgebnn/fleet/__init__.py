"""Fleets: many boards, each training on its own data, merged into one model with Flower
(docs/fleet.md). `aggregate` is the integer merge rule (pure NumPy), `strategy` the Flower
Strategy that applies it, `clientapp`/`serverapp` the Flower apps, `deploy` the local
SuperLink + SuperNodes that `edgebnn fleet train` runs, `cli` the command."""
