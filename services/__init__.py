"""The four services. Each is a package with the same inner shape; services never import each other."""
