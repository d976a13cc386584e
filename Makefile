# The two commands a newcomer needs: `make run` and `make test`. Both set themselves up.
export LITELLM_LOCAL_MODEL_COST_MAP := True
VENV := .venv/bin

.PHONY: run test setup lint format perf clean

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(VENV)/dgm run

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

format:
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

test: lint
	@bash scripts/test-deps.sh
	$(VENV)/pytest -q

perf: setup
	@for f in perf/*.py; do echo "== $$f"; $(VENV)/python $$f; done

clean:
	rm -rf .venv .dgm runs .pytest_cache
