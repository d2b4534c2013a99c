# Thin entry points; each target calls one tool. Run `make help` for the list.
PROFILE ?= cpu
NOTEBOOKS ?=
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help setup book test execute status links assignments data clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup:  ## create .venv with torch (never a second build) and the package with all extras
	@tools/setup_env.sh

book: setup  ## build the book from committed notebook outputs and print where to open it
	@PATH="$(CURDIR)/$(BIN):$$PATH" tools/build_book.sh

test: setup  ## everything CI runs: ruff, unit tests, pairing, nbval (ci profile), book, browser, assignments
	@PATH="$(CURDIR)/$(BIN):$$PATH" tools/run_tests.sh

execute: setup  ## re-run notebooks in place at PROFILE (ci|cpu|gpu), e.g. make execute PROFILE=gpu NOTEBOOKS=00
	@$(BIN)/reps4lhc notebooks run --profile $(PROFILE) $(NOTEBOOKS)
	@$(BIN)/reps4lhc notebooks status

status:  ## rewrite the book's status page from the notebooks' run metadata
	@$(BIN)/reps4lhc notebooks status

links:  ## derive Colab badges, install cells and the README course map from _config.yml
	@$(BIN)/reps4lhc links

assignments: setup  ## write student versions of the notebooks to assignments/
	@$(BIN)/reps4lhc assignments build

data: setup  ## list the datasets and what the cache holds (generate with: .venv/bin/reps4lhc data generate ...)
	@$(BIN)/reps4lhc data list

clean:  ## remove build outputs (keeps .venv)
	rm -rf _build assignments vendor
