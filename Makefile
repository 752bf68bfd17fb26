# The two set-up commands of the README: `make app` and `make test` (`make check`: the fast unit subset).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
MKB_BUILD_TARGETS ?= host,aarch64,converter

.PHONY: app test check venv mnn suite

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

# Fetch MNN into the user cache (from MKB_MNN_FROM when set) and build the pristine baselines; tests that
# need MNN skip with a reason when this could not be done (e.g. offline without a local checkout).
mnn: venv
	-$(BIN)/mkb-tui setup mnn --if-missing --build $(MKB_BUILD_TARGETS) $(if $(MKB_MNN_FROM),--from $(MKB_MNN_FROM),)

# The paper's published task suite (fetched into the user cache, never vendored; from MKB_PAPER_FROM when set);
# tests that need it skip with a reason when it could not be had.
suite: venv
	-$(BIN)/mkb-tui setup suite paper $(if $(MKB_PAPER_FROM),--from $(MKB_PAPER_FROM),)

# What a session needs first (as `make test` does), then the app; its set-up screen can also set MNN up later.
app: mnn suite
	$(BIN)/mkb-tui

test: mnn suite
	$(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

# The fast unit subset, run before every commit: nothing that needs MNN, qemu, a local Ray cluster (tests/cluster:
# each starts Ray's processes and kills nodes; 40 s of the subset's CPU) or a long run (no set-up needed).
CHECK_MARKERS ?= not mnn and not qemu and not aarch64 and not ray and not slow
# Four workers on two cores: these tests wait on subprocesses, pilots and Ray about as much as they compute
# (measured: 3:28 with -n 2, 2:27 with -n 4, 2:14 with -n 6 on this 2-core machine).
CHECK_WORKERS ?= 4
check: venv
	$(BIN)/python -m pytest -q -x -m "$(CHECK_MARKERS)" -n $(CHECK_WORKERS) -p no:cacheprovider $(PYTEST_ARGS)
