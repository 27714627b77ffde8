# The two commands of the README: `make demo` (set up and run) and `make test` (set up and test).
.PHONY: setup demo test lint bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/riskmap demo

test:
	bash scripts/setup.sh --with-postgis
	bash scripts/test.sh

lint: setup
	.venv/bin/ruff check riskmap tests benchmarks scripts

bench: setup
	bash scripts/bench.sh
