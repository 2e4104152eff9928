# Two commands do all set-up: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo check test test-slow bench clean tools

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mixbuild demo configs/demo

tools:
	@sh .ci/install-tools || echo "warning: could not install ffmpeg; its cross-checks skip here (and fail in CI)"

# Static checks of the product: types (mypy; its settings are in pyproject.toml) and dead code
# (vulture; .vulture_whitelist.py names the entry points only a decorator or a library calls, and running it
# checks each still exists, so a moved name cannot linger there).
check: $(STAMP)
	$(VENV)/bin/mypy
	$(VENV)/bin/python .vulture_whitelist.py
	$(VENV)/bin/vulture pipeline stages mixbuild .vulture_whitelist.py --min-confidence 60

test: check tools
	$(VENV)/bin/pytest

test-slow: $(STAMP) tools
	$(VENV)/bin/pytest -m slow

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf build cache/objects cache/actions cache/leases
