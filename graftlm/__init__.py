"""graftlm core: settings, errors, model provisioning, the artifact workspace and the CLI root.

Only what every stage shares lives here. Each stage keeps its folder at the top of the repository
(``advisor/``, ``rag/``, ``tuning/``, ``serving/``) and installs as a subpackage of this one:
``graftlm.advisor``, ``graftlm.rag``, ``graftlm.tuning``, ``graftlm.serving`` (the mapping is in
``pyproject.toml``), so nothing of ours lands beside PyPI's packages of those names.
"""

__version__ = "0.1.0"
