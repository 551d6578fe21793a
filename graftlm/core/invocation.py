"""What the ``graft`` root knows of one invocation before any command runs: the root's options.

The root puts an :class:`Invocation` on the click context; the settings are loaded from it on
first use (:func:`graftlm.core.commands.settings_of`), so that a bad setting fails only the
command that needs it and ``graft --help`` loads no settings at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Invocation:
    """The root's ``--config`` and overrides (``--home``), and the settings once loaded."""

    config: Path | None = None
    overrides: dict = field(default_factory=dict)
    loaded: object | None = None  # a core.settings.LoadedSettings, set by settings_of
