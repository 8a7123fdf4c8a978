"""The regression suite: fixed briefs, their metrics, the report and the model gate."""
