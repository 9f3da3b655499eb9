"""Talking to edgebnn firmware over a serial link (docs/protocol.md): `framing` (frames),
`client.Device` (the commands), `ports.open_device` (qemu:BOARD, pyserial URLs, tty paths),
`qemu.QemuBoard` (emulated boards), `cli` (the `device` and `board` subcommands)."""
