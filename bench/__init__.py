"""Benchmark harness (issue 8): `python -m bench.run` measures the services against a raw aiokafka relay."""
