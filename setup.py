"""Only here because setuptools reads `cffi_modules` from setup(): it builds the C core
(native/) into the extension edgebnn._native when the package is installed."""
from setuptools import setup

setup(cffi_modules=["edgebnn/native/build_ffi.py:ffibuilder"])
