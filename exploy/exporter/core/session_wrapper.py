"""``SessionWrapper``: run an exported file with onnxruntime. Imports no torch."""

from exploy.runtime.session import SessionWrapper

__all__ = ["SessionWrapper"]
