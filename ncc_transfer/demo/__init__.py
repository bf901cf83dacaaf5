"""Synthetic demo local authority: registry, school extracts and a manifest of what was planted.

    from ncc_transfer.demo import build_demo_la
    demo = build_demo_la(Path(".ncc_transfer"), seed=2026, schools=12)
"""

from .generator import DemoLA, build_demo_la

__all__ = ["DemoLA", "build_demo_la"]
