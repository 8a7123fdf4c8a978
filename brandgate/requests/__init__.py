"""A request from queue to ending: the state machine and the run that drives one request."""
