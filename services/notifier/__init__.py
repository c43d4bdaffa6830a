"""notifier: keeps every linked customer informed and delivers incident updates to subscribers."""
