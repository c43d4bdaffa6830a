"""Developer and operator tools: incidentctl, document generators, the demo."""
