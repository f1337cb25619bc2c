"""Adapters that export environments of RL frameworks without changing the user's task code.

Each framework lives in its own subpackage and is imported only on demand, so ``exploy`` does
not need the framework installed: ``exploy.frameworks.mjlab`` needs the ``mjlab`` extra.
"""
