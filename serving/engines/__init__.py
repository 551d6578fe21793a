"""Engines behind the gateway: vLLM (a managed server) and local (transformers + peft)."""
