"""featurizer package."""
