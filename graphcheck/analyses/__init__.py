"""Pure analyses over the flattened call graph: (graph, profile) -> per-call facts."""
