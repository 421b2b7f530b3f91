"""Fixtures for the host-side tests of files/init-ssh-and-repo.sh.

Every test builds its own repositories with real git under ``tmp_path`` and
runs the script with a clean environment (temporary HOME, no system git
config, fixed author and committer).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from _library import MARKER, MARKER_TEXT, SCRIPT


def base_env(home: Path) -> dict:
    """A minimal, reproducible environment for git and the script."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.invalid",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.invalid",
        # Submodules over the file protocol (git >= 2.38 refuses them by default).
        # Only the tests allow it; the script itself does not weaken this.
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "protocol.file.allow",
        "GIT_CONFIG_VALUE_0": "always",
        "GIT_CONFIG_KEY_1": "init.defaultBranch",
        "GIT_CONFIG_VALUE_1": "main",
    }
    return env


class Git:
    """Run git with the test environment."""

    def __init__(self, env: dict):
        self.env = env

    def __call__(self, *args: str, cwd: Path | str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc.stdout.strip()

    def head(self, repo: Path, rev: str = "HEAD") -> str:
        return self("rev-parse", rev, cwd=repo)

    def branch(self, repo: Path) -> str:
        return self("symbolic-ref", "--short", "HEAD", cwd=repo)

    def url(self, repo: Path, remote: str, push: bool = False) -> str:
        args = ["remote", "get-url"] + (["--push"] if push else []) + ["--", remote]
        return self(*args, cwd=repo)


class Upstream:
    """A bare repository with ``main`` and ``feature`` branches and helpers to
    add commits through a scratch clone."""

    def __init__(self, git: Git, root: Path, name: str = "upstream.git", submodule: Path | None = None):
        self.git = git
        self.bare = root / name
        self.scratch = root / (name + "-scratch")
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        git("clone", "--quiet", str(self.bare), str(self.scratch))
        self.commit("main", "README.md", "hello\n", "initial commit")
        if submodule is not None:
            git("submodule", "--quiet", "add", str(submodule), "lib", cwd=self.scratch)
            git("commit", "--quiet", "-m", "add submodule", cwd=self.scratch)
            git("push", "--quiet", "origin", "main", cwd=self.scratch)
        self.git("checkout", "--quiet", "-b", "feature", cwd=self.scratch)
        self.commit("feature", "feature.txt", "feature work\n", "feature commit")
        self.git("checkout", "--quiet", "main", cwd=self.scratch)

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(self, branch: str, name: str, content: str, message: str = "change") -> str:
        """Commit ``name`` with ``content`` on ``branch`` and push; return the sha."""
        current = self.git("symbolic-ref", "--short", "HEAD", cwd=self.scratch)
        if current != branch:
            exists = self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=self.scratch, check=False)
            if exists:
                self.git("checkout", "--quiet", branch, "--", cwd=self.scratch)
            else:
                self.git("checkout", "--quiet", "-b", branch, cwd=self.scratch)
        (self.scratch / name).write_text(content)
        self.git("add", "--", name, cwd=self.scratch)
        self.git("commit", "--quiet", "-m", message, cwd=self.scratch)
        self.git("push", "--quiet", "origin", f"refs/heads/{branch}:refs/heads/{branch}", cwd=self.scratch)
        return self.sha(branch)

    def sha(self, branch: str = "main") -> str:
        return self.git("rev-parse", f"refs/heads/{branch}", cwd=self.bare)


@pytest.fixture
def env(tmp_path: Path) -> dict:
    home = tmp_path / "home"
    home.mkdir()
    return base_env(home)


@pytest.fixture
def git(env: dict) -> Git:
    return Git(env)


@pytest.fixture
def make_upstream(tmp_path: Path, git: Git):
    """Factory: ``make_upstream(name, with_submodule=False)`` -> Upstream."""

    def factory(name: str = "upstream.git", with_submodule: bool = False, root: Path | None = None) -> Upstream:
        base = root or tmp_path
        base.mkdir(parents=True, exist_ok=True)
        sub = None
        if with_submodule:
            sub = base / (name + "-sub.git")
            scratch = base / (name + "-sub-scratch")
            git("init", "--quiet", "--bare", "--initial-branch=main", str(sub))
            git("clone", "--quiet", str(sub), str(scratch))
            (scratch / "lib.txt").write_text("library\n")
            git("add", "lib.txt", cwd=scratch)
            git("commit", "--quiet", "-m", "lib", cwd=scratch)
            git("push", "--quiet", "origin", "main", cwd=scratch)
        return Upstream(git, base, name, submodule=sub)

    return factory


@pytest.fixture
def upstream(make_upstream) -> Upstream:
    return make_upstream()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty task workspace holding only the new-task marker."""
    ws = tmp_path / "workspace"
    ws.mkdir(mode=0o700)
    (ws / MARKER).write_text(MARKER_TEXT)
    return ws


@pytest.fixture
def run_init(env: dict, workspace: Path, tmp_path: Path):
    """Run the init script: ``run_init(command=("true",), **env_overrides)``.

    ``command`` is handed to the script as its arguments (``()`` for none); an
    override of ``None`` removes that variable from the environment."""

    def run(command=("true",), stdin: str | None = None, combined: bool = False, **overrides):
        run_env = dict(env)
        run_env["REPO_ROOT"] = str(workspace)
        for key, value in overrides.items():
            if value is None:
                run_env.pop(key, None)
            else:
                run_env[key] = value
        proc = subprocess.run(
            [str(SCRIPT), *command],
            cwd=tmp_path,
            env=run_env,
            input=stdin if stdin is not None else "",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if combined else subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
        return proc

    return run
