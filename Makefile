.PHONY: demo test bench lint
demo:  ## install everything and run idp with demo data
	scripts/demo.sh
test:  ## install everything and run the whole test suite
	scripts/test.sh
bench:  ## measure throughput and latency (see bench/README.md)
	WITH_WRK=1 scripts/install.sh && .venv/bin/python bench/bench.py
lint:
	.venv/bin/ruff check idp tests demo bench
