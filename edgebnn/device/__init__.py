"""Talking to edgebnn firmware: under QEMU (qemu.QemuBoard) and, later, on real boards."""
