"""The cffi declarations are derived from native/include/edgebnn.h (build_ffi.header_cdef): every
function and constant the header declares must reach Python, so a header construct the
extraction drops or mangles fails here instead of silently going missing."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from edgebnn._native import lib

ROOT = Path(__file__).resolve().parents[1]
HEADER = (ROOT / "native" / "include" / "edgebnn.h").read_text()


def _build_ffi():
    spec = importlib.util.spec_from_file_location("build_ffi", ROOT / "edgebnn/native/build_ffi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_header_function_is_bound():
    # prototypes at line start: `<type> *?ebnn_name(`, minus the static inline helpers
    declared = set(re.findall(r"^(?!static)[\w ]+?\**\b(ebnn_\w+)\(", HEADER, re.MULTILINE))
    assert {"ebnn_model_load", "ebnn_trainer_step", "ebnn_build_info"} <= declared
    missing = sorted(name for name in declared if not hasattr(lib, name))
    assert not missing, f"edgebnn.h declares {missing}, not bound by build_ffi.py"


def test_every_header_constant_is_bound():
    macros = re.findall(r"^#define (EBNN_\w+)[ \t]+\S", HEADER, re.MULTILINE)
    assert "EBNN_ALIGN" in macros
    assert [m for m in macros if not hasattr(lib, m)] == []
    assert lib.EBNN_WORK_PER_THREAD == 8 << 20   # an expression, read from the compiled header


def test_cdef_drops_what_cffi_cannot_parse():
    cdef = _build_ffi().header_cdef(HEADER)
    assert "static inline" not in cdef and "__cplusplus" not in cdef
    assert not re.search(r"^#(?!define \w+ \.\.\.$)", cdef, re.MULTILINE)
    assert "ebnn_trainer_init" in cdef
