"""edgebnn: train binary neural networks in PyTorch, run them bit-exactly on hosts, ARM boards
and Cortex-M microcontrollers."""
__version__ = "0.1.0"
