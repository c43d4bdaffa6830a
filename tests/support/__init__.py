"""Test support: the real stack (Kafka, PostgreSQL), Kafka helpers, waiting with deadlines, services."""
