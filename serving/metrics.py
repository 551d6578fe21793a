"""Prometheus metrics of the gateway: requests, latency and tokens, per model."""

from __future__ import annotations


class Metrics:
    """A registry of its own, so several apps in one process (tests) do not collide."""

    def __init__(self, admission=None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("graft_requests", "Requests answered, by model and outcome.",
                                ["model", "status"], registry=self.registry)
        self.latency = Histogram("graft_request_seconds", "Time to the whole answer, by model.",
                                 ["model"], registry=self.registry,
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
        self.tokens = Counter("graft_tokens", "Tokens processed, by model and kind.",
                              ["model", "kind"], registry=self.registry)
        if admission is not None:  # read when scraped
            Gauge("graft_requests_in_flight", "Requests being answered.",
                  registry=self.registry).set_function(lambda: admission.in_flight)
            Gauge("graft_requests_queued", "Requests waiting for a slot.",
                  registry=self.registry).set_function(lambda: admission.queued)
            Gauge("graft_requests_rejected", "Requests refused with 429 since the start.",
                  registry=self.registry).set_function(lambda: admission.rejected)

    def observe(self, model: str, status: str, seconds: float, prompt: int,
                completion: int) -> None:
        self.requests.labels(model, status).inc()
        self.latency.labels(model).observe(seconds)
        if prompt:
            self.tokens.labels(model, "prompt").inc(prompt)
        if completion:
            self.tokens.labels(model, "completion").inc(completion)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
