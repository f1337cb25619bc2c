"""Runnable example environments and policies for the exporter (plain torch, no simulator).

Each example module exposes factories returning ``(environment, actor)`` ready to export, e.g.
``exploy export exploy.examples.legged_robot:make_mlp_example --out DIR``.
"""
