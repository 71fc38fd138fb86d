"""Training of the intent model (scikit-learn). Not imported by the classify service."""
