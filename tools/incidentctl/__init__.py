"""incidentctl: the command-line tool for operators, engineers and support agents."""
