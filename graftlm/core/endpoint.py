"""One chat request to a model behind any OpenAI-compatible endpoint, with graftlm's errors.

The judge of measured answers, the reader model of ``graft advise --reader-url`` and the model
measured with ``--compare`` all ask a remote model the same way; what fails — nothing answers, or
the endpoint answers an error — becomes a :class:`BackendUnavailableError` that names the
endpoint and the option to drop.
"""

from __future__ import annotations

from graftlm.core.errors import BackendUnavailableError


def client(url: str, api_key: str = "none", timeout: float = 60.0):
    """An ``openai`` client for ``url`` (a ``/v1`` base URL) that retries once."""
    import openai

    return openai.OpenAI(base_url=url, api_key=api_key, max_retries=1, timeout=timeout)


def chat(client, what: str, option: str, **request):
    """``client.chat.completions.create(**request)``; ``what`` names the model for people
    ("the judge") and ``option`` the command-line option that brought it in ("--judge").

    Raises:
        BackendUnavailableError: the endpoint does not answer, or answers an error status.
    """
    import openai

    url = str(client.base_url).rstrip("/")
    try:
        return client.chat.completions.create(**request)
    except openai.APIConnectionError as exc:
        raise BackendUnavailableError(f"{what} at {url} does not answer; start it or drop "
                                      f"{option}.") from exc
    except openai.APIStatusError as exc:
        raise BackendUnavailableError(f"{what} at {url} answered {exc.status_code}: "
                                      f"{exc.message}") from exc
