# The course's commands. Each target is a thin wrapper around plain pip/pytest/jupyter
# commands (README shows them for machines without make).
#   make lab     open the course in JupyterLab at notebook 00, settings in jupyter-config/ (sets up .venv if needed)
#   make lab-zh  the same for the Chinese edition (中文版), at notebooks/zh/00; hints, quizzes and JupyterLab's
#                own menus speak Chinese (jupyter-config/zh/ sets its language pack's locale)
#   make test    ruff (lint), then unit tests + every notebook executed by nbval, ci profile
#   make setup   create .venv and install the course with its dependencies
#   make outputs re-execute notebooks in place with the cpu profile (NB=... for one);
#                KINETO_LOG_LEVEL=6 keeps torch.profiler's time-stamped log lines out of them;
#                each run's wall time goes into the notebook's metadata and the README's table
#   make slides  a reveal.js deck per notebook in build/slides, the Chinese edition's in build/slides/zh (offline)
#   make student student copies without solutions in build/student and build/student/zh (notebooks/ keeps them)
#   make zh      rebuild the Chinese edition from the English sources and the PO files in locale/zh and
#                lmcourse/locale/zh; lists every cell or string that needs translating (new or fuzzy)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# GPU users who installed their own torch build: make setup CONSTRAINTS=
CONSTRAINTS ?= -c constraints.txt
# Extra flags for `make lab`, e.g. LAB_FLAGS="--no-browser --port 8890"
LAB_FLAGS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)
WORKERS ?= 2
NB ?= notebooks/*.ipynb
NB_ZH ?= notebooks/zh/*.ipynb

.PHONY: setup lab lab-zh test outputs slides student zh clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install $(CONSTRAINTS) -e ".[dev]"
	$(BIN)/python -c "import lmcourse; print(lmcourse.environment_summary())"
	touch $@

lab: setup
	JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG) $(LAB_FLAGS) notebooks/00_welcome.ipynb

lab-zh: setup
	LMCOURSE_LANG=zh JUPYTER_CONFIG_PATH="$(CURDIR)/jupyter-config/zh:$(CURDIR)/jupyter-config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
	  $(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG) $(LAB_FLAGS) notebooks/zh/00_welcome.ipynb

test: setup
	$(BIN)/ruff check .
	LMCOURSE_PROFILE=ci OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE $(BIN)/python -m pytest -n $(WORKERS) --dist loadfile

outputs: setup
	@for nb in $(NB); do \
	  echo "executing $$nb"; start=$$(date +%s); \
	  LMCOURSE_PROFILE=cpu OMP_WAIT_POLICY=PASSIVE KINETO_LOG_LEVEL=6 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=1800 --ExecutePreprocessor.record_timing=False \
	    --NotebookExporter.preprocessors="['nbconvert.preprocessors.CoalesceStreamsPreprocessor']" $$nb || exit 1; \
	  LMCOURSE_PROFILE=cpu $(BIN)/python tools/classroom.py stamp --seconds $$(( $$(date +%s) - start )) $$nb || exit 1; \
	done
	$(BIN)/python tools/classroom.py tag $(NB)
	$(BIN)/python tools/classroom.py readme README.md notebooks/*.ipynb
	$(BIN)/python tools/translate.py build

slides: setup
	$(BIN)/python tools/classroom.py slides --out build/slides $(NB)
	LMCOURSE_LANG=zh $(BIN)/python tools/classroom.py slides --out build/slides/zh $(NB_ZH)

student: setup
	$(BIN)/python tools/classroom.py student --out build/student $(NB)
	LMCOURSE_LANG=zh $(BIN)/python tools/classroom.py student --out build/student/zh $(NB_ZH)

zh: setup
	$(BIN)/python tools/translate.py build

clean:
	rm -rf $(VENV) build *.egg-info
