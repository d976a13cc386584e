"""Environments from the `swebench` package's specs (`MAP_REPO_VERSION_TO_SPECS`, 4.x), for
records that come without an environment file; and which tests an instance's command runs.

The package is an optional extra (`pip install 'dgm[swebench]'`), imported only here and only
when a record needs it. What its specs give becomes an env-file-like dict:
- `packages` as a pip list, or `requirements.txt`: the repository's requirement file at
  base_commit (`MAP_REPO_TO_REQS_PATHS`, `-r` includes followed); `environment.yml` (conda) is
  refused with a one-line error;
- `pip_packages` appended; `install` as is; `pre_install` (e.g. Django's locales) run as root
  in the environment's build; `eval_commands` exports (`export LANG=...`) set for the tests;
- `test_cmd` (a list is joined with `&&`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from benchmarks.base import BenchmarkError
from benchmarks.swebench.dataset import patch_files

# What SWE-bench leaves out of the test directives (data, docs, configuration).
NON_TEST_EXTS = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml",
                 ".toml")  # fmt: skip
MAX_INCLUDES = 20  # `-r` files followed per requirement file, at most


def _constants(iid: str):
    try:  # optional and heavy: only for records that come without an environment file
        from swebench.harness import constants
    except ImportError:
        raise BenchmarkError(
            f"{iid}: no environment file and the `swebench` package is not installed "
            "(pip install 'dgm[swebench]')"
        ) from None
    return constants


def swebench_spec(record: dict, read_repo: Callable[[str], bytes | None] | None) -> dict:
    """The instance's environment from swebench's specs, as an env-file-like dict."""
    iid = record["instance_id"]
    constants = _constants(iid)
    spec = constants.MAP_REPO_VERSION_TO_SPECS.get(record["repo"], {}).get(
        str(record.get("version"))
    )
    if spec is None:
        where = f"{record['repo']} {record.get('version')}"
        raise BenchmarkError(f"{iid}: swebench has no spec for {where}")
    packages = spec.get("packages", "")
    if packages == "environment.yml":
        raise BenchmarkError(
            f"{iid}: its swebench spec installs a conda environment.yml; give an environment "
            "file with the pinned pip list instead"
        )
    if packages == "requirements.txt":
        paths = getattr(constants, "MAP_REPO_TO_REQS_PATHS", {}).get(record["repo"], [])
        pip = requirements(iid, paths, read_repo)
    else:
        pip = packages.split()
    test_cmd = spec["test_cmd"]
    if isinstance(test_cmd, list):
        test_cmd = " && ".join(test_cmd)
    exports = [c.removeprefix("export ").strip() for c in spec.get("eval_commands", [])]
    env_vars = dict(e.split("=", 1) for e in exports if "=" in e and " " not in e.split("=")[0])
    return {
        "python": spec.get("python"),
        "pip": [*pip, *spec.get("pip_packages", [])],
        "install": spec.get("install", ""),
        "pre_install": list(spec.get("pre_install", [])),
        "test_cmd": test_cmd,
        "env_vars": env_vars,
    }


def requirements(
    iid: str, paths: list[str], read_repo: Callable[[str], bytes | None] | None
) -> list[str]:
    """The pip lines of the first of `paths` the repository has, `-r` includes inlined."""
    found = [p for p in paths if read_repo is not None and read_repo(p) is not None]
    if not found:
        raise BenchmarkError(
            f"{iid}: its swebench spec reads requirements from the repository and none of "
            f"{paths or ['(no path known)']} is there; give an environment file instead"
        )
    out: list[str] = []
    queue, seen = [found[0]], set()
    while queue and len(seen) < MAX_INCLUDES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        text = (read_repo(path) or b"").decode("utf-8", "replace")  # type: ignore[misc]
        for raw in text.splitlines():
            line = raw.split(" #")[0].strip()
            if line.startswith(("-r ", "--requirement ")):
                included = line.split(None, 1)[1].strip()
                queue.append(posixpath.normpath(posixpath.join(posixpath.dirname(path), included)))
            elif line and not line.startswith(("#", "-")):
                out.append(line)
    return out


def test_directives(record: dict, test_cmd: str) -> list[str]:
    """What the test command is given: the test files `test_patch` touches (Python files;
    data files left out), as module names for Django's runner (`tests/a/b.py` -> `a.b`)."""
    files = [p for p in patch_files(record["test_patch"]) if not p.endswith(NON_TEST_EXTS)]
    if "runtests.py" not in test_cmd:
        return [p for p in files if p.endswith(".py")]
    modules = []
    for path in files:
        path = path.removesuffix(".py").removeprefix("tests/")
        modules.append(path.replace("/", "."))
    return modules
