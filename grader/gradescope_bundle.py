"""The Gradescope autograder zip for one assignment (`grader gradescope-bundle`).

Gradescope unpacks the zip into /autograder/source, runs `setup.sh` once
(as root) when it builds the image, and `run_autograder` (copied to
/autograder/run_autograder) for each submission, which must leave
/autograder/results/results.json. The zip holds:

- `setup.sh`: installs python3 with venv and bubblewrap (the strongest
  sandbox level, where the image lets it run), creates /autograder/venv,
  installs torch from PyTorch's CPU wheel index (pinned) and this grader from
  the bundled source (a regular, not editable, install);
- `run_autograder` (executable): copies the submitted notebook (the one named
  ASSIGNMENT.ipynb, else the first .ipynb in the submission) into a work
  folder, runs `grader grade ... --format gradescope`, and copies the
  results.json it wrote to /autograder/results/results.json; when no notebook
  was submitted or the grader failed, it writes a results.json that says so
  (score 0), so Gradescope always has a result;
- the grader's source: the files of the `grader` package that runs the
  command (a source checkout or a wheel's install alike) and a
  `pyproject.toml` made from its installed metadata (name, version, core
  dependencies); a `config.yaml` with the course's limits and paths relative
  to the bundle, and the rubric as `rubrics/ASSIGNMENT.yaml`.

The zip is deterministic: sorted members, fixed timestamps.
"""

from __future__ import annotations

import io
import shlex
import stat
import typing as t
import zipfile
from pathlib import Path

from importlib import metadata

import yaml

import grader
from grader.config import Config
from grader.rubric.model import Rubric

AUTOGRADER = "/autograder"
_EPOCH = (1980, 1, 1, 0, 0, 0)
#: PyTorch's CPU-only wheels: the default index for torch (PyPI's torch is the multi-GB CUDA build)
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
DIST_NAME = "autograd-grader"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# It installs Python, torch (CPU wheel, pinned) and the grader into /autograder/venv.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q python3 python3-pip python3-venv
# bubblewrap: the strongest sandbox level; where the image cannot run it the grader falls back
# to a weaker level and says so in every report
apt-get install -y -q bubblewrap || echo "bubblewrap could not be installed: a weaker sandbox level will run"
python3 - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"autograd-grader needs Python 3.10 or newer; this image has {sys.version.split()[0]}: "
             "choose a newer Ubuntu base image in the autograder settings")
PY
python3 -m venv {venv}
{venv}/bin/python -m pip install --upgrade pip
{venv}/bin/python -m pip install {torch_spec} {torch_index}
{venv}/bin/python -m pip install {source}
{venv}/bin/grader --version
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade the submitted notebook and leave
# /autograder/results/results.json (always, even when the grader cannot run).
set -uo pipefail
ASSIGNMENT={assignment}
HIDDEN_VISIBILITY={hidden_visibility}
SOURCE={autograder}/source
SUBMISSION={autograder}/submission
RESULTS={autograder}/results
WORK={autograder}/work
GRADER={venv}/bin/grader

fail() {{   # a results.json with score 0 and a fixed message (no student text in it)
  printf '{{"score": 0, "output": "%s", "visibility": "visible", "stdout_visibility": "hidden"}}\\n' "$1" \\
    > "$RESULTS/results.json"
  exit 0
}}

rm -rf "$WORK"
mkdir -p "$WORK/submission" "$RESULTS"
mapfile -t notebooks < <(find "$SUBMISSION" -type f -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
if [ "${{#notebooks[@]}}" -eq 0 ]; then
  fail "No .ipynb notebook was found in the submission: upload your $ASSIGNMENT.ipynb."
fi
chosen="${{notebooks[0]}}"
for nb in "${{notebooks[@]}}"; do
  if [ "$(basename "$nb")" = "$ASSIGNMENT.ipynb" ]; then chosen="$nb"; fi
done
cp "$chosen" "$WORK/submission/"

"$GRADER" grade "$WORK/submission" --assignment "$ASSIGNMENT" --config "$SOURCE/config.yaml" \\
  --out "$WORK/out" --workers 1 --format gradescope --format markdown \\
  --hidden-visibility "$HIDDEN_VISIBILITY" 2>&1 | tee "$WORK/grader.log"
status=${{PIPESTATUS[0]}}

if [ -f "$WORK/out/results.json" ]; then
  cp "$WORK/out/results.json" "$RESULTS/results.json"
else
  fail "The autograder could not grade this submission (grader exit status $status); your instructor has the log."
fi
"""


def _zipinfo(name: str, *, executable: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.create_system = 3          # Unix, so the mode bits are honoured on extraction
    return info


def bundle_config(cfg: Config) -> str:
    """The course config with paths relative to the bundle (the rubric sits in rubrics/)."""
    data = cfg.model_dump(mode="json")
    data["paths"] = {"rubrics": "rubrics", "out": "reports"}
    data["formats"] = ["json", "gradescope"]
    return ("# Course config for the Gradescope autograder (written by `grader gradescope-bundle`).\n"
            + yaml.safe_dump(data, sort_keys=False))


def _package_files() -> list[tuple[str, bytes]]:
    """Every file of the running `grader` package (code, templates, py.typed), wherever it is
    installed: a checkout, an editable install or a wheel's install in site-packages."""
    package = Path(grader.__file__).resolve().parent
    return [(f"grader/{path.relative_to(package).as_posix()}", path.read_bytes())
            for path in sorted(package.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"]


def _pyproject() -> str:
    """A pyproject.toml for the bundled package, from the installed grader's metadata (so a
    grader installed from a wheel, without its source tree, bundles itself the same way)."""
    requires = [r for r in (metadata.requires(DIST_NAME) or []) if "extra ==" not in r]
    deps = ", ".join(f'"{r}"' for r in requires)
    return ("[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n"
            f'[project]\nname = "{DIST_NAME}"\nversion = "{grader.__version__}"\n'
            f'requires-python = ">=3.10"\ndependencies = [{deps}]\n\n'
            '[project.scripts]\ngrader = "grader.cli.main:run"\n\n'
            '[tool.setuptools.packages.find]\ninclude = ["grader*"]\n\n'
            '[tool.setuptools.package-data]\ngrader = ["**/*"]\n')


def _source_files() -> list[tuple[str, bytes]]:
    """The grader's installable source: pyproject.toml and the package's files."""
    return [("pyproject.toml", _pyproject().encode()), *_package_files()]


def installed_torch_version() -> str:
    try:
        return metadata.version("torch").split("+")[0]
    except metadata.PackageNotFoundError:
        return ""


def build(rubric: Rubric, rubric_path: Path, cfg: Config, *, torch_version: str | None = None,
          hidden_visibility: str = "after_published", root: str = AUTOGRADER,
          torch_index_url: str = TORCH_CPU_INDEX) -> bytes:
    """The autograder zip, as bytes (`root` is Gradescope's /autograder; tests move it).
    `torch_index_url`: the wheel index for torch (default PyTorch's CPU index, which avoids the
    CUDA build; "" = the image's default index)."""
    torch_version = installed_torch_version() if torch_version is None else torch_version
    torch_spec = shlex.quote(f"torch=={torch_version}" if torch_version else "torch")
    venv = f"{root}/venv"
    setup = SETUP_SH.replace("{venv}", venv).replace("{torch_spec}", torch_spec) \
        .replace("{torch_index}", f"--index-url {shlex.quote(torch_index_url)}" if torch_index_url else "").replace("{source}", f"{root}/source")
    run = RUN_AUTOGRADER.format(assignment=shlex.quote(rubric.assignment),
                                hidden_visibility=shlex.quote(hidden_visibility),
                                autograder=root, venv=venv)
    members: list[tuple[zipfile.ZipInfo, bytes]] = [
        (_zipinfo("setup.sh", executable=True), setup.encode()),
        (_zipinfo("run_autograder", executable=True), run.encode()),
        (_zipinfo("config.yaml"), bundle_config(cfg).encode()),
        (_zipinfo(f"rubrics/{rubric.assignment}.yaml"), rubric_path.read_bytes()),
    ]
    members += [(_zipinfo(name), data) for name, data in _source_files()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info, data in sorted(members, key=lambda m: m[0].filename):
            zf.writestr(info, data)
    return buf.getvalue()


__all__: t.Sequence[str] = ("build", "bundle_config", "SETUP_SH", "RUN_AUTOGRADER")
