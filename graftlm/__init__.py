"""graftlm: advise how to adapt a language model to a task, then build and serve it.

The package is layered. :mod:`graftlm.core` holds what every stage shares (settings, errors,
model provisioning, the workspace). The four stages keep their folders at the top of the
repository (``advisor/``, ``rag/``, ``tuning/``, ``serving/``) and install as subpackages of this
one — ``graftlm.advisor``, ``graftlm.rag``, ``graftlm.tuning``, ``graftlm.serving`` (the mapping is
in ``pyproject.toml``), so nothing of ours lands beside PyPI's packages of those names. The
``graft`` command (:mod:`graftlm.cli`) composes the stages and stands above them all.
"""

__version__ = "0.1.0"
