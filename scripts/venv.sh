# Sourced by the scripts: makes .venv (once) with lfr and its dev tools, then activates it.
if [ ! -x .venv/bin/python ] || [ pyproject.toml -nt .venv/.installed ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e ".[dev]"
  touch .venv/.installed
fi
# shellcheck disable=SC1091
source .venv/bin/activate
