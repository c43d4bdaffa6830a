"""engineering-validation: the owning engineering team validates alerts; owns the incident lifecycle."""
