"""Running it in production: Prometheus metrics and structured logs (docs/config.md)."""
