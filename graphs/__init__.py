"""Domain schema of the evidence graph, identifier normalisers and the stores."""
