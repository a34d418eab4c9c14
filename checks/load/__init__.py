"""The `load` check: the service under locust, gated on latency, TTFT, throughput and errors."""
