"""The HTTP API (`qqscan api serve`): a listing service submits image URLs and reads verdicts with a token."""
