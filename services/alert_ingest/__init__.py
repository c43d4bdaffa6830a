"""alert-ingest: normalises and de-duplicates monitoring alerts from alerts.raw and the HTTP receivers."""
