"""cffi (API mode) build of the C core into edgebnn._native.

The C sources are compiled as they are for the devices. The declarations Python sees are not
written here: `header_cdef` derives them from native/include/edgebnn.h, so a function, type or
constant the header gains is callable from Python with no edit here, and the two cannot drift.
Run by setup.py at install time (cffi_modules) or as `python edgebnn/native/build_ffi.py`."""
from __future__ import annotations

import re
from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "native"
HEADER = NATIVE / "include" / "edgebnn.h"

# What cffi's declaration parser does not take, and what becomes of it:
#   - the C++ guard (`#ifdef __cplusplus` ... `#endif`): dropped;
#   - the other preprocessor lines (include guard, #include): dropped, except
#   - object-like macros with a value (`#define EBNN_ALIGN 16`): kept as `#define NAME ...`, so
#     cffi reads each value from the compiled header (the value may be any integer expression);
#   - `static inline` function definitions: dropped (their bodies are C, not declarations).
_CPLUSPLUS = re.compile(r"^#ifdef __cplusplus\n.*?^#endif\n", re.DOTALL | re.MULTILINE)
_MACRO = re.compile(r"^#define (\w+)[ \t]+\S.*$", re.MULTILINE)
_DIRECTIVE = re.compile(r"^#.*$", re.MULTILINE)
_INLINE = re.compile(r"^static inline\b[^;{]*\{", re.MULTILINE)


def _drop_inline_bodies(text: str) -> str:
    """Removes every `static inline` definition, from its first line to its closing brace."""
    while (m := _INLINE.search(text)) is not None:
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        text = text[: m.start()] + text[i:]
    return text


def header_cdef(text: str) -> str:
    """The header's declarations in the form cffi's cdef() takes (see the table above)."""
    text = _CPLUSPLUS.sub("", text)
    text = _MACRO.sub(lambda m: f"#define {m.group(1)} ...", text)
    text = _DIRECTIVE.sub(lambda m: m.group(0) if m.group(0).endswith(" ...") else "", text)
    return _drop_inline_bodies(text)


ffibuilder = FFI()
ffibuilder.cdef(header_cdef(HEADER.read_text()))
ffibuilder.set_source(
    "edgebnn._native",
    '#include "edgebnn.h"',
    sources=[str(p.relative_to(ROOT)) for p in sorted((NATIVE / "src").rglob("*.c"))],
    include_dirs=[str(NATIVE / "include"), str(NATIVE / "src")],
    extra_compile_args=["-std=c99", "-O3"],
    # the host build's optional worker threads (ebnn_infer_with); device builds have none
    define_macros=[("EBNN_THREADS", "1")],
    extra_link_args=["-pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
