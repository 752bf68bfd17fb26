"""The words every part may use: session events (`events`), what an evaluation says (`verdicts`) and the closed set
of flags it may carry (`flags`).

Nothing here imports another mkb_tui package, so the store, the benchmark metrics, the engine, the agents and the
app can all depend on it without depending on each other."""
