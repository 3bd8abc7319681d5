"""What every package shares and imports downward: names of splits, nodes
and artifact properties. It imports nothing of the project."""
