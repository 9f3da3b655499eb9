"""One module per training algorithm; each defines an Algorithm subclass with a `name`."""
