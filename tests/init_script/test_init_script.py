"""Host-side tests of files/init-ssh-and-repo.sh against real git repositories."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from _library import MARKER, MARKER_TEXT, SCRIPT

DONE = ">> init complete"


# ---------------------------------------------------------------- helpers


def lines(text: str) -> list:
    return text.splitlines()


def assert_completed(proc, handed_over: str | None = None) -> None:
    """The script succeeded, its last line is the completion line and the
    command it handed over to printed ``handed_over`` afterwards."""
    assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = lines(proc.stdout)
    if handed_over is None:
        assert out[-1] == DONE, proc.stdout
    else:
        assert out[-2:] == [DONE, handed_over], proc.stdout
    assert out.count(DONE) == 1


def assert_failed(proc, code: int) -> None:
    assert proc.returncode == code, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert DONE not in proc.stdout
    assert "handed-over" not in proc.stdout


def checkout_into(git, workspace: Path, url: str, branch: str = "main") -> None:
    """Make ``workspace`` a checkout of ``url`` (the marker, if any, stays)."""
    git("init", "--quiet", str(workspace))
    git("remote", "add", "origin", url, cwd=workspace)
    git("fetch", "--quiet", "origin", cwd=workspace)
    git("checkout", "--quiet", "-b", branch, f"origin/{branch}", cwd=workspace)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


HANDOVER = ("sh", "-c", "echo handed-over")


# ------------------------------------------------- 1. first start: clone


def test_first_clone_branch_with_submodule_and_handover(run_init, make_upstream, workspace, git):
    up = make_upstream(with_submodule=True)
    proc = run_init(HANDOVER, CODE_REPO=up.url, GIT_BRANCH="feature")
    assert_completed(proc, handed_over="handed-over")
    assert git.branch(workspace) == "feature"
    assert git.head(workspace) == up.sha("feature")
    assert git.url(workspace, "origin") == up.url
    assert git.head(workspace, "@{upstream}") == up.sha("feature")
    assert (workspace / "feature.txt").read_text() == "feature work\n"
    assert (workspace / "lib" / "lib.txt").read_text() == "library\n"
    assert not (workspace / MARKER).exists()
    # A normal checkout: clean, nothing left over from the clone.
    assert git("status", "--porcelain", cwd=workspace) == ""
    assert sorted(p.name for p in workspace.iterdir()) == [".git", ".gitmodules", "README.md", "feature.txt", "lib"]


def test_first_clone_default_branch_without_git_branch(run_init, upstream, workspace, git):
    proc = run_init(CODE_REPO=str(upstream.bare))
    assert_completed(proc)
    assert git.branch(workspace) == "main"
    assert git.head(workspace) == upstream.sha("main")
    assert not (workspace / MARKER).exists()


def test_first_clone_missing_branch_falls_back_to_default(run_init, upstream, workspace, git):
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="no-such-branch")
    assert_completed(proc)
    assert "'no-such-branch' does not exist" in proc.stderr
    assert "default branch" in proc.stderr
    assert git.branch(workspace) == "main"
    assert git.head(workspace) == upstream.sha("main")
    assert not (workspace / MARKER).exists()


def test_first_clone_unreachable_url_fails_and_keeps_marker(run_init, tmp_path, workspace):
    missing = tmp_path / "does-not-exist.git"
    proc = run_init(HANDOVER, CODE_REPO=missing.as_uri(), GIT_BRANCH="main")
    assert_failed(proc, 4)
    assert "does not appear to be a git repository" in proc.stderr  # git's own message
    assert ">> error: " in proc.stderr
    assert sorted(p.name for p in workspace.iterdir()) == [MARKER]
    assert (workspace / MARKER).read_text() == MARKER_TEXT  # kept as the library wrote it


def test_first_clone_error_other_than_missing_branch_aborts(run_init, upstream, workspace, git):
    """A reachable repository whose clone fails (broken submodule) aborts."""
    git("config", "-f", ".gitmodules", "submodule.broken.path", "broken", cwd=upstream.scratch)
    git("config", "-f", ".gitmodules", "submodule.broken.url", "/nonexistent/broken.git", cwd=upstream.scratch)
    sub_sha = upstream.sha("main")
    git("update-index", "--add", "--cacheinfo", f"160000,{sub_sha},broken", cwd=upstream.scratch)
    git("add", ".gitmodules", cwd=upstream.scratch)
    git("commit", "--quiet", "-m", "broken submodule", cwd=upstream.scratch)
    git("push", "--quiet", "origin", "main", cwd=upstream.scratch)
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="main")
    assert_failed(proc, 4)
    assert "git clone" in proc.stderr
    assert (workspace / MARKER).exists()
    assert not (workspace / ".git").exists()
    assert sorted(p.name for p in workspace.iterdir()) == [MARKER]


def test_first_clone_removes_leftover_of_an_interrupted_start(run_init, upstream, workspace, git):
    leftover = workspace / ".terok-init-clone.Ab12Cd"
    (leftover / ".git").mkdir(parents=True)
    (leftover / "half.txt").write_text("partial\n")
    proc = run_init(CODE_REPO=upstream.url)
    assert_completed(proc)
    assert not leftover.exists()
    assert git.head(workspace) == upstream.sha("main")


# ------------------------------------------- 2. first start, not empty


def test_nonempty_workspace_is_an_error_and_nothing_is_deleted(run_init, upstream, workspace):
    (workspace / "notes.txt").write_text("mine\n")
    (workspace / "build").mkdir()
    (workspace / ".hidden").write_text("x\n")
    proc = run_init(HANDOVER, CODE_REPO=upstream.url)
    assert_failed(proc, 3)
    assert "not empty" in proc.stderr
    for name in ("notes.txt", "build", ".hidden"):
        assert f">>   {name}" in proc.stderr
    assert f">>   {MARKER}" not in proc.stderr
    assert sorted(p.name for p in workspace.iterdir()) == sorted([MARKER, "notes.txt", "build", ".hidden"])
    assert (workspace / "notes.txt").read_text() == "mine\n"


# ------------------------------------------------ 3. stale workspace


def test_stale_workspace_is_reset_to_remote_branch(run_init, upstream, workspace, git):
    checkout_into(git, workspace, upstream.url, "main")
    (workspace / "README.md").write_text("local edit\n")
    (workspace / "untracked.txt").write_text("junk\n")
    (workspace / "junkdir").mkdir()
    (workspace / "junkdir" / "f").write_text("junk\n")
    git("commit", "--quiet", "-am", "local commit", cwd=workspace)
    new_feature = upstream.commit("feature", "more.txt", "more\n")
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="feature")
    assert_completed(proc)
    assert git.branch(workspace) == "feature"
    assert git.head(workspace) == new_feature
    assert git("status", "--porcelain", "--ignored", cwd=workspace) == ""
    assert not (workspace / "untracked.txt").exists()
    assert not (workspace / "junkdir").exists()
    assert not (workspace / MARKER).exists()


def test_stale_workspace_without_branch_resets_current_branch(run_init, upstream, workspace, git):
    checkout_into(git, workspace, upstream.url, "main")
    (workspace / "README.md").write_text("local edit\n")
    git("commit", "--quiet", "-am", "local commit", cwd=workspace)
    new_main = upstream.commit("main", "later.txt", "later\n")
    proc = run_init(CODE_REPO=upstream.url)
    assert_completed(proc)
    assert git.branch(workspace) == "main"
    assert git.head(workspace) == new_main
    assert (workspace / "README.md").read_text() == "hello\n"
    assert not (workspace / MARKER).exists()


def test_stale_workspace_failed_checkout_keeps_marker_then_retry(run_init, upstream, workspace, git):
    checkout_into(git, workspace, upstream.url, "main")
    before = git.head(workspace)
    (workspace / "keep.txt").write_text("untracked\n")
    proc = run_init(HANDOVER, CODE_REPO=upstream.url, GIT_BRANCH="vanished")
    assert_failed(proc, 5)
    assert "marker kept" in proc.stderr
    assert (workspace / MARKER).exists()
    assert git.head(workspace) == before
    assert (workspace / "keep.txt").exists()  # nothing cleaned when the reset failed
    # The next start retries the reset.
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="feature")
    assert_completed(proc)
    assert git.head(workspace) == upstream.sha("feature")
    assert not (workspace / MARKER).exists()


def test_stale_workspace_failed_fetch_keeps_marker(run_init, upstream, workspace, git, tmp_path):
    checkout_into(git, workspace, upstream.url, "main")
    proc = run_init(CODE_REPO=(tmp_path / "gone.git").as_uri(), GIT_BRANCH="main")
    assert_failed(proc, 5)
    assert (workspace / MARKER).exists()


# ---------------------------------------------------------- 4. restart


def restart_setup(git, upstream, workspace):
    """A restarted task: no marker, a local commit and an uncommitted change;
    upstream has moved on meanwhile."""
    checkout_into(git, workspace, upstream.url, "main")
    (workspace / MARKER).unlink()
    (workspace / "mine.txt").write_text("committed locally\n")
    git("add", "mine.txt", cwd=workspace)
    git("commit", "--quiet", "-m", "local work", cwd=workspace)
    local = git.head(workspace)
    (workspace / "README.md").write_text("uncommitted edit\n")
    remote = upstream.commit("main", "upstream.txt", "upstream moved\n")
    return local, remote


def test_restart_fetches_and_keeps_local_work(run_init, upstream, workspace, git):
    local, remote = restart_setup(git, upstream, workspace)
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="main")
    assert_completed(proc)
    assert git.head(workspace) == local
    assert git.head(workspace, "refs/remotes/origin/main") == remote
    assert (workspace / "README.md").read_text() == "uncommitted edit\n"
    assert (workspace / "mine.txt").exists()
    assert not (workspace / MARKER).exists()


def test_restart_reset_hard(run_init, upstream, workspace, git):
    _local, remote = restart_setup(git, upstream, workspace)
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="main", GIT_RESET_MODE="hard")
    assert_completed(proc)
    assert git.head(workspace) == remote
    assert (workspace / "README.md").read_text() == "hello\n"
    assert not (workspace / "mine.txt").exists()
    assert git("status", "--porcelain", cwd=workspace) == ""


def test_restart_reset_hard_switches_to_the_branch(run_init, upstream, workspace, git):
    restart_setup(git, upstream, workspace)
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="feature", GIT_RESET_MODE="hard")
    assert_completed(proc)
    assert git.branch(workspace) == "feature"
    assert git.head(workspace) == upstream.sha("feature")


def test_restart_reset_soft(run_init, upstream, workspace, git):
    local, remote = restart_setup(git, upstream, workspace)
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="main", GIT_RESET_MODE="soft")
    assert_completed(proc)
    assert git.head(workspace) == remote
    assert local != remote
    # Working tree and index survive a soft reset: the local file is staged.
    assert (workspace / "README.md").read_text() == "uncommitted edit\n"
    assert (workspace / "mine.txt").read_text() == "committed locally\n"
    assert "mine.txt" in git("diff", "--cached", "--name-only", cwd=workspace)


def test_restart_fetch_failure_is_a_warning(run_init, upstream, workspace, git, tmp_path):
    local, _remote = restart_setup(git, upstream, workspace)
    gone = tmp_path / "gone.git"
    git("remote", "set-url", "origin", str(gone), cwd=workspace)
    proc = run_init(HANDOVER, CODE_REPO=str(gone), GIT_BRANCH="main", GIT_RESET_MODE="hard")
    assert_completed(proc, handed_over="handed-over")
    assert ">> warning: fetch from origin failed" in proc.stderr
    assert git.head(workspace) == local
    assert (workspace / "README.md").read_text() == "uncommitted edit\n"


def test_restart_file_code_repo_always_becomes_origin(run_init, upstream, make_upstream, workspace, git):
    other = make_upstream("elsewhere.git")
    checkout_into(git, workspace, other.url, "main")
    (workspace / MARKER).unlink()
    proc = run_init(CODE_REPO=upstream.url)
    assert_completed(proc)
    assert git.url(workspace, "origin") == upstream.url
    assert git.url(workspace, "origin", push=True) == upstream.url
    assert git.head(workspace, "refs/remotes/origin/main") == upstream.sha("main")


def test_restart_non_file_code_repo_leaves_a_different_origin(run_init, upstream, make_upstream, workspace, git):
    other = make_upstream("elsewhere.git")
    checkout_into(git, workspace, other.url, "main")
    (workspace / MARKER).unlink()
    proc = run_init(CODE_REPO=str(upstream.bare))
    assert_completed(proc)
    assert git.url(workspace, "origin") == other.url


# ----------------------------------------- 5. CLONE_FROM and external


def make_gate(git, upstream, tmp_path: Path) -> Path:
    gate = tmp_path / "gate.git"
    git("clone", "--quiet", "--mirror", str(upstream.bare), str(gate))
    return gate


def test_clone_from_gate_repoints_origin_and_takes_branch_from_it(run_init, upstream, workspace, git, tmp_path):
    gate = make_gate(git, upstream, tmp_path)
    newer = upstream.commit("feature", "after-gate.txt", "newer than the gate\n")
    proc = run_init(CLONE_FROM=str(gate), CODE_REPO=upstream.url, GIT_BRANCH="feature")
    assert_completed(proc)
    assert git.url(workspace, "origin") == upstream.url
    assert git.url(workspace, "origin", push=True) == upstream.url
    assert git.branch(workspace) == "feature"
    assert git.head(workspace) == newer
    assert git.head(workspace, "@{upstream}") == newer
    assert not (workspace / MARKER).exists()


def test_clone_from_gate_branch_only_in_code_repo(run_init, upstream, workspace, git, tmp_path):
    gate = make_gate(git, upstream, tmp_path)
    fresh = upstream.commit("fresh", "fresh.txt", "only upstream\n")
    proc = run_init(CLONE_FROM=str(gate), CODE_REPO=upstream.url, GIT_BRANCH="fresh")
    assert_completed(proc)
    assert git.branch(workspace) == "fresh"
    assert git.head(workspace) == fresh


def test_clone_from_gate_unreachable_code_repo_keeps_gate_state(run_init, upstream, workspace, git, tmp_path):
    gate = make_gate(git, upstream, tmp_path)
    gone = (tmp_path / "gone.git").as_uri()
    proc = run_init(CLONE_FROM=str(gate), CODE_REPO=gone, GIT_BRANCH="feature")
    assert_completed(proc)
    assert ">> warning: could not fetch from CODE_REPO" in proc.stderr
    assert git.url(workspace, "origin") == gone
    assert git.url(workspace, "origin", push=True) == gone
    assert git.branch(workspace) == "feature"
    assert git.head(workspace) == upstream.sha("feature")
    assert not (workspace / MARKER).exists()


def test_external_remote_added_replaced_and_behind_count(run_init, upstream, make_upstream, workspace, git):
    external = make_upstream("external.git")
    # external/main: the same history plus two commits
    git("push", "--quiet", "--force", str(external.bare), "main:main", cwd=upstream.scratch)
    git("fetch", "--quiet", "origin", cwd=external.scratch)
    git("reset", "--quiet", "--hard", "origin/main", cwd=external.scratch)
    external.commit("main", "ext1.txt", "1\n")
    external.commit("main", "ext2.txt", "2\n")
    checkout_into(git, workspace, upstream.url, "main")
    (workspace / MARKER).unlink()
    git("remote", "add", "external", "/old/external/url", cwd=workspace)
    proc = run_init(CODE_REPO=upstream.url, EXTERNAL_REMOTE_URL=external.url)
    assert_completed(proc)
    assert git.url(workspace, "external") == external.url
    assert git.url(workspace, "external", push=True) == external.url
    assert ">> HEAD is 2 commit(s) behind external/main" in lines(proc.stdout)


def test_external_remote_on_first_clone(run_init, upstream, workspace, git):
    proc = run_init(CODE_REPO=upstream.url, GIT_BRANCH="main", EXTERNAL_REMOTE_URL=str(upstream.bare))
    assert_completed(proc)
    assert git.url(workspace, "external") == str(upstream.bare)
    assert ">> HEAD is 0 commit(s) behind external/main" in lines(proc.stdout)


def test_external_remote_unreachable_goes_on(run_init, upstream, workspace, git, tmp_path):
    gone = (tmp_path / "no-external.git").as_uri()
    proc = run_init(HANDOVER, CODE_REPO=upstream.url, EXTERNAL_REMOTE_URL=gone)
    assert_completed(proc, handed_over="handed-over")
    assert "not reachable" in proc.stderr
    assert git.url(workspace, "external") == gone
    assert git.head(workspace) == upstream.sha("main")


def test_url_passwords_are_not_printed(run_init, upstream):
    # Loopback port 1: refused at once, no traffic leaves the host.
    url = "https://user:s3cret@127.0.0.1:1/x.git"
    proc = run_init(CODE_REPO=upstream.url, EXTERNAL_REMOTE_URL=url)
    assert_completed(proc)
    assert "not reachable" in proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr
    assert "https://user:***@127.0.0.1:1/x.git" in proc.stdout


# ---------------------------------------------------------------- 6. SSH


def make_ssh(home: Path, files=("id_test", "id_test.pub", "config")) -> Path:
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o777)
    ssh.chmod(0o777)
    content = {
        "id_test": "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRET-KEY-MATERIAL\n",
        "id_test.pub": "ssh-ed25519 PUBLIC-KEY-MATERIAL test\n",
        "config": "Host *\n  IdentityFile ~/.ssh/id_test\n",
    }
    for name in files:
        path = ssh / name
        path.write_text(content[name])
        path.chmod(0o666)
    return ssh


def test_ssh_permissions_fixed_and_key_not_printed(run_init, env, upstream):
    ssh = make_ssh(Path(env["HOME"]))
    proc = run_init(CODE_REPO=upstream.url, SSH_KEY_NAME="id_test")
    assert_completed(proc)
    assert mode(ssh) == 0o700
    assert mode(ssh / "id_test") == 0o600
    assert mode(ssh / "id_test.pub") == 0o644
    assert mode(ssh / "config") == 0o644
    for secret in ("SECRET-KEY-MATERIAL", "PUBLIC-KEY-MATERIAL", "PRIVATE KEY"):
        assert secret not in proc.stdout + proc.stderr


def test_ssh_missing_file_warns_and_goes_on(run_init, env, upstream, workspace, git):
    ssh = make_ssh(Path(env["HOME"]), files=("id_test", "id_test.pub"))
    proc = run_init(CODE_REPO=upstream.url, SSH_KEY_NAME="id_test")
    assert_completed(proc)
    assert ">> warning: SSH key setup skipped" in proc.stderr
    assert str(ssh / "config") in proc.stderr
    assert mode(ssh / "id_test") == 0o666  # untouched
    assert git.head(workspace) == upstream.sha("main")


# -------------------------------------------- 7. safe.directory, quoting


def test_safe_directory_added_once(run_init, env, upstream, workspace, git):
    assert_completed(run_init(CODE_REPO=upstream.url))
    assert_completed(run_init(CODE_REPO=upstream.url))  # restart
    values = git("config", "--global", "--get-all", "safe.directory").splitlines()
    assert values.count(str(workspace)) == 1
    assert Path(env["HOME"], ".gitconfig").is_file()


@pytest.mark.parametrize("branch", ["-rf", "--upload-pack=touch", "has space", "a..b", "@{-1}", "HEAD"])
def test_invalid_branch_name_rejected(run_init, upstream, workspace, branch):
    proc = run_init(HANDOVER, CODE_REPO=upstream.url, GIT_BRANCH=branch)
    assert_failed(proc, 2)
    assert ">> error: GIT_BRANCH" in proc.stderr
    assert "not a valid branch name" in proc.stderr
    assert sorted(p.name for p in workspace.iterdir()) == [MARKER]


def test_odd_branch_and_url_characters_are_passed_safely(run_init, make_upstream, workspace, git, tmp_path):
    root = tmp_path / "repos with space" / "it's \"quoted\""
    up = make_upstream("-dash repo.git", root=root)
    branch = "odd/it's\"q\"$(touch${IFS}pwned)`touch${IFS}pwned2`"
    sha = up.commit(branch, "odd.txt", "odd\n")
    proc = run_init(CODE_REPO=str(up.bare), GIT_BRANCH=branch, EXTERNAL_REMOTE_URL=up.url)
    assert_completed(proc)
    assert git.branch(workspace) == branch
    assert git.head(workspace) == sha
    assert git.url(workspace, "origin") == str(up.bare)
    assert git.url(workspace, "external") == up.url
    for place in (tmp_path, workspace, Path(up.bare)):
        assert not list(place.glob("pwned*"))


def test_leading_dash_urls_are_not_options(run_init, make_upstream, workspace, git, tmp_path):
    """URLs that look like options reach git as repository arguments."""
    proc = run_init(HANDOVER, CODE_REPO="--upload-pack=touch pwned", GIT_BRANCH="main")
    assert_failed(proc, 4)
    assert not list(tmp_path.rglob("pwned"))
    assert sorted(p.name for p in workspace.iterdir()) == [MARKER]
    up = make_upstream("-leading-dash.git")
    proc = run_init(CODE_REPO="-leading-dash.git", GIT_BRANCH="feature")  # relative to the cwd, tmp_path
    assert_completed(proc)
    assert git.head(workspace) == up.sha("feature")
    assert git.url(workspace, "origin") == str(up.bare)


def test_invalid_reset_mode_rejected(run_init, upstream, workspace):
    proc = run_init(CODE_REPO=upstream.url, GIT_RESET_MODE="mixed")
    assert_failed(proc, 2)
    assert "GIT_RESET_MODE" in proc.stderr
    assert sorted(p.name for p in workspace.iterdir()) == [MARKER]


# ---------------------------------------------------- 8. no CODE_REPO


def test_missing_code_repo_keeps_marker_and_goes_on(run_init, workspace):
    proc = run_init(HANDOVER, CODE_REPO=None)
    assert_completed(proc, handed_over="handed-over")
    assert "no repository to clone" in proc.stderr
    assert sorted(p.name for p in workspace.iterdir()) == [MARKER]


def test_missing_workspace_is_created(run_init, upstream, workspace):
    shutil.rmtree(workspace)
    proc = run_init(CODE_REPO=upstream.url)
    assert_completed(proc)
    assert workspace.is_dir()
    assert not (workspace / ".git").exists()  # no marker: nothing is cloned
    assert "no new-task marker" in proc.stderr


# --------------------------------------------------- 9. output and exec


def test_completion_line_is_last_in_combined_output(run_init, upstream):
    proc = run_init(HANDOVER, combined=True, CODE_REPO=upstream.url, GIT_BRANCH="nope", SSH_KEY_NAME="absent")
    assert proc.returncode == 0, proc.stdout
    out = lines(proc.stdout)
    assert out[-2:] == [DONE, "handed-over"]
    assert all(line.startswith(">> ") for line in out[:-1]), out
    assert any(line.startswith(">> warning: ") for line in out)


def test_errors_go_to_stderr_only(run_init, upstream, workspace):
    (workspace / "stray").write_text("")
    proc = run_init(CODE_REPO=upstream.url)
    assert_failed(proc, 3)
    assert ">> error: " in proc.stderr
    assert ">> error: " not in proc.stdout


def test_exec_passes_arguments_and_exit_code(run_init, upstream):
    proc = run_init(("sh", "-c", 'printf "%s|" "$@"; exit 7', "sh", "a b", "-c", "'q'"), CODE_REPO=upstream.url)
    assert proc.returncode == 7
    assert lines(proc.stdout)[-2:] == [DONE, "a b|-c|'q'|"]


def test_no_arguments_execs_bash(run_init, upstream):
    proc = run_init((), stdin="echo from-bash $BASH_VERSION\n", CODE_REPO=upstream.url)
    assert proc.returncode == 0, proc.stderr
    out = lines(proc.stdout)
    assert out[-2] == DONE
    assert out[-1].startswith("from-bash 5")


# ------------------------------------------------------------ shellcheck


def test_script_is_executable_with_header():
    assert mode(SCRIPT) == 0o755
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -Eeuo pipefail" in text
    for var in ("REPO_ROOT", "CODE_REPO", "GIT_BRANCH", "GIT_RESET_MODE", "CLONE_FROM", "EXTERNAL_REMOTE_URL", "SSH_KEY_NAME"):
        assert f"#   {var}" in text, var


def test_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck is not installed (apt-get install shellcheck)"
    proc = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------- secret_env for every shell

HOOK_LINE = '[ -r "$HOME/.terok-secret-env.sh" ] && . "$HOME/.terok-secret-env.sh"  # terok.lifecycle: secret_env'
SKEL_BASHRC = "# ~/.bashrc\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\nPS1='$ '\n"
SKEL_PROFILE = '# ~/.profile\nif [ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n'


@pytest.fixture
def secrets_home(env, tmp_path):
    """A home as Debian's skeleton makes it, and two secrets mounted as podman mounts them."""
    home = Path(env["HOME"])
    (home / ".bashrc").write_text(SKEL_BASHRC)
    (home / ".bashrc").chmod(0o640)
    (home / ".profile").write_text(SKEL_PROFILE)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "API_KEY").write_text("s3cret value with spaces\n")
    (secrets / "OTHER_TOKEN").write_text("t0ken")
    return home, secrets


def shell(env, home, secrets, *argv):
    """A shell opened later in the container: the container's environment (names only), not the init script's."""
    shell_env = dict(env, HOME=str(home), TEROK_SECRET_ENV="API_KEY OTHER_TOKEN", TEROK_SECRETS_DIR=str(secrets))
    proc = subprocess.run(list(argv), env=shell_env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                          timeout=30)
    return proc.stdout


def test_every_later_shell_gets_secret_env_and_no_value_is_written(run_init, upstream, secrets_home, env):
    home, secrets = secrets_home
    for _start in range(2):  # every start of the container runs the script: the hook goes in once
        proc = run_init(CODE_REPO=upstream.url, TEROK_SECRET_ENV="API_KEY OTHER_TOKEN", TEROK_SECRETS_DIR=str(secrets))
        assert_completed(proc)
    printed = 'printf "%s|%s" "$API_KEY" "$OTHER_TOKEN"'
    expected = "s3cret value with spaces|t0ken"
    assert shell(env, home, secrets, "bash", "-lc", printed) == expected  # podman exec ... bash -lc, tmux's login shell
    assert shell(env, home, secrets, "bash", "-ic", printed).endswith(expected)  # podman exec -it ... bash
    assert shell(env, home, secrets, "sh", "-lc", printed) == expected  # a POSIX login shell (dash reads ~/.profile)
    # the hook first, the file's own lines kept, its mode kept; the hook holds no value
    for rc, text in ((".bashrc", SKEL_BASHRC), (".profile", SKEL_PROFILE)):
        assert (home / rc).read_text() == HOOK_LINE + "\n" + text
    assert mode(home / ".bashrc") == 0o640
    assert not (home / ".bash_profile").exists()
    written = "".join(path.read_text() for path in home.rglob("*") if path.is_file())
    assert "s3cret" not in written and "t0ken" not in written and "s3cret" not in proc.stdout + proc.stderr


def test_a_bash_profile_gets_the_hook_and_a_linked_rc_file_is_left_alone(run_init, upstream, secrets_home, env, tmp_path):
    home, secrets = secrets_home
    (home / ".bash_profile").write_text("# mine\n")
    elsewhere = tmp_path / "shared-profile"
    elsewhere.write_text(SKEL_PROFILE)
    (home / ".profile").unlink()
    (home / ".profile").symlink_to(elsewhere)
    proc = run_init(CODE_REPO=upstream.url, TEROK_SECRET_ENV="API_KEY", TEROK_SECRETS_DIR=str(secrets))
    assert_completed(proc)
    assert (home / ".bash_profile").read_text() == HOOK_LINE + "\n# mine\n"
    assert elsewhere.read_text() == SKEL_PROFILE and "symbolic link" in proc.stderr
    assert shell(env, home, secrets, "bash", "-lc", 'printf %s "$API_KEY"') == "s3cret value with spaces"


def test_without_secret_env_no_hook_is_installed(run_init, upstream, secrets_home):
    home, _secrets = secrets_home
    assert_completed(run_init(CODE_REPO=upstream.url))
    assert not (home / ".terok-secret-env.sh").exists()
    assert (home / ".bashrc").read_text() == SKEL_BASHRC and (home / ".profile").read_text() == SKEL_PROFILE
