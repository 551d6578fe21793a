"""graftlm core: settings, errors, model provisioning, the artifact workspace and the CLI root.

Only what every stage shares lives here; each stage (``advisor``, and later ``rag``, ``tuning``,
``serving``) is its own top-level package.
"""

__version__ = "0.1.0"
