# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils import _host_prep
from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunGate
from ansible_collections.terok.lifecycle.plugins.module_utils._host_prep import (
    CONF_NAME,
    SYSTEM_CONTAINERS_CONF,
    SYSTEM_INIT_SCRIPT,
    HostPrep,
    HostUser,
    Request,
    default_containers_conf,
    default_init_script,
    parse_mode,
    render_containers_conf,
)
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman

SCRIPT = "#!/bin/bash\necho '>> init complete'\n"
USER = 1000


class Runner(FakePodman):
    """The fake podman, plus the package database: ``installed`` names for dpkg-query and rpm; and systemd:
    ``unit_state`` is what ``systemctl is-enabled`` says (None: no such unit), ``refuse`` the programs
    (systemctl, loginctl) whose changes fail, ``linger_dir`` where ``loginctl enable-linger`` records a user."""

    def __init__(self, installed=(), unit_state="disabled", refuse=(), linger_dir=None, **fields):
        super().__init__(**fields)
        self.installed = set(installed)
        self.unit_state = unit_state
        self.refuse = set(refuse)
        self.linger_dir = linger_dir

    def _systemd(self, argv):
        self.calls.append(list(argv))
        program, args = os.path.basename(argv[0]), [arg for arg in argv[1:] if arg != "--user"]
        if program in self.refuse:
            return 1, "", "Failed: Access denied"
        if program == "loginctl":
            os.makedirs(self.linger_dir, exist_ok=True)
            open(os.path.join(self.linger_dir, args[1]), "w").close()
            return 0, "", ""
        if args[0] == "is-enabled":
            if self.unit_state is None:
                return 1, "", "Failed to get unit file state for %s: No such file or directory" % args[1]
            return (0 if self.unit_state in ("enabled", "static") else 1), self.unit_state + "\n", ""
        self.unit_state = "enabled"
        return 0, "", "Created symlink ..."

    def run(self, argv, data=None, timeout=None):
        if argv[0] == "env":  # env XDG_RUNTIME_DIR=... systemctl --user ...
            self.calls.append(list(argv[:2]))
            argv = argv[2:]
        program = os.path.basename(argv[0])
        if program in ("systemctl", "loginctl"):
            return self._systemd(argv)
        if program == "dpkg-query":
            self.calls.append(list(argv))
            names = argv[4:]
            out = "".join("%s\tii \n" % name for name in names if name in self.installed)
            err = "".join("dpkg-query: no packages found matching %s\n" % name for name in names if name not in self.installed)
            return (1 if err else 0), out, err
        if program == "rpm":
            self.calls.append(list(argv))
            names = argv[2:]
            out = "".join(("%s-1.0-1.x86_64\n" % name) if name in self.installed
                          else "package %s is not installed\n" % name for name in names)
            return (0 if all(name in self.installed for name in names) else len(names)), out, ""
        return super().run(argv)


pytestmark = pytest.mark.usefixtures("no_system_config")  # never the host's /etc/terok/config.yml


@pytest.fixture
def paths(tmp_path):
    base = tmp_path / "host"
    return {
        "root": str(base / "root"),
        "init_script_path": str(base / "libexec" / "init-ssh-and-repo.sh"),
        "containers_conf_path": str(base / "conf.d" / CONF_NAME),
    }


@pytest.fixture
def prep(paths, podman_exe, tmp_path):
    """Make a HostPrep from options (the ``paths`` ones by default); returns (prep, runner)."""

    def make(check_mode=False, installed=(), which=None, environ=None, euid=0, images=None, fail=None, booted=False,
             unit_state="disabled", refuse=(), restart_on_boot=False, **params):
        options = dict(paths, init_script_content=SCRIPT, executable=podman_exe, restart_on_boot=restart_on_boot)
        options.update(params)
        options = {key: value for key, value in options.items() if value is not None}
        linger_dir = str(tmp_path / "linger")
        runner = Runner(installed, images=images, fail=fail, unit_state=unit_state, refuse=refuse,
                        linger_dir=linger_dir)
        systemd_dir = tmp_path / "run-systemd-system"
        if booted:
            systemd_dir.mkdir(exist_ok=True)
        return HostPrep(Request(options), runner, RunGate(check_mode),
                        environ={"HOME": str(tmp_path / "home")} if environ is None else environ,
                        euid=euid, egid=euid, which=which or _which(), os_release=str(tmp_path / "os-release"),
                        systemd_dir=str(systemd_dir), linger_dir=linger_dir), runner

    return make


def _which(found=("git", "dpkg-query", "apt-get")):
    return lambda name: "/usr/bin/" + name if name in found else None


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# -- a fresh host, then a rerun ------------------------------------------------------------------
def test_fresh_host_gets_every_tree_the_script_and_no_drop_in(prep, paths):
    result = prep()[0].run()
    root = paths["root"]
    assert result["changed"] is True
    assert [result[key] for key in ("root", "state_dir", "live_dir", "archive_dir")] == [
        root, root + "/core", root + "/sandbox-live", root + "/archive"]
    for tree in ("", "/core", "/sandbox-live", "/archive"):
        assert os.path.isdir(root + tree) and mode(root + tree) == 0o750
    script = paths["init_script_path"]
    with open(script) as handle:
        assert handle.read() == SCRIPT
    assert mode(script) == 0o755
    assert mode(os.path.dirname(script)) == 0o755  # made on the way, as root
    assert result["init_script"] == {"path": script, "checksum": hashlib.sha256(SCRIPT.encode()).hexdigest(),
                                     "changed": True}
    assert result["containers_conf"] == {"path": paths["containers_conf_path"], "state": "absent", "changed": False}
    assert not os.path.exists(paths["containers_conf_path"])
    assert result["changes"] == [
        "created directory %s (mode 0750)" % root,
        "created directory %s/core (mode 0750)" % root,
        "created directory %s/sandbox-live (mode 0750)" % root,
        "created directory %s/archive (mode 0750)" % root,
        "wrote %s (mode 0755)" % script,
    ]
    assert result["missing"] == [] and result["missing_packages"] == [] and result["image_exists"] is None


def test_rerun_changes_nothing(prep):
    prep(podman_runtime="runc", podman_ulimits=["nofile=20000:20000"])[0].run()
    again = prep(podman_runtime="runc", podman_ulimits=["nofile=20000:20000"])[0]
    result = again.run()
    assert result["changed"] is False
    assert result["changes"] == [] and again.diffs == []
    assert result["init_script"]["changed"] is False and result["containers_conf"]["changed"] is False


def test_check_mode_writes_nothing_and_says_what_would_change(prep, tmp_path, tree_snapshot):
    before = tree_snapshot(str(tmp_path))
    checker = prep(check_mode=True, podman_runtime="runc")[0]
    result = checker.run()
    assert tree_snapshot(str(tmp_path)) == before
    assert result["changed"] is True
    assert len(result["changes"]) == 6  # four trees, the script, the drop-in
    assert checker.diffs[0]["before"] == "absent\n"
    assert checker.diffs[0]["after"] == "directory, mode 0750, owner 0:0\n"
    assert checker.diffs[4]["after"] == SCRIPT
    assert 'runtime = "runc"' in checker.diffs[5]["after"]


def test_modes_are_put_right_and_shown_in_the_diff(prep, paths):
    prep()[0].run()
    os.chmod(paths["root"] + "/core", 0o777)
    os.chmod(paths["init_script_path"], 0o600)
    fixer = prep()[0]
    result = fixer.run()
    assert result["changes"] == [
        "changed the mode of %s/core from 0777 to 0750" % paths["root"],
        "changed the mode of %s from 0600 to 0755" % paths["init_script_path"],
    ]
    assert fixer.diffs[0]["before"].startswith("directory, mode 0777")
    assert fixer.diffs[0]["after"].startswith("directory, mode 0750")
    assert mode(paths["root"] + "/core") == 0o750 and mode(paths["init_script_path"]) == 0o755
    assert result["init_script"]["changed"] is True


def test_root_mode_option_applies_to_every_tree(prep, paths):
    result = prep(root_mode="0700")[0].run()
    assert all(mode(result[key]) == 0o700 for key in ("root", "state_dir", "live_dir", "archive_dir"))
    assert prep(root_mode=0o700)[0].run()["changed"] is False  # YAML's 0700 (an int) is the same mode


def test_a_changed_script_is_replaced_with_its_diff(prep, paths):
    prep()[0].run()
    replacer = prep(init_script_content="#!/bin/bash\necho new\n")[0]
    result = replacer.run()
    assert result["changes"] == ["replaced %s (mode 0755)" % paths["init_script_path"]]
    assert replacer.diffs == [{"before_header": paths["init_script_path"], "after_header": paths["init_script_path"],
                               "before": SCRIPT, "after": "#!/bin/bash\necho new\n"}]
    with open(paths["init_script_path"]) as handle:
        assert handle.read() == "#!/bin/bash\necho new\n"


def test_a_symlink_at_the_script_path_is_replaced_by_a_file(prep, paths, tmp_path):
    target = tmp_path / "elsewhere.sh"
    target.write_text("other\n")
    os.makedirs(os.path.dirname(paths["init_script_path"]))
    os.symlink(str(target), paths["init_script_path"])
    result = prep()[0].run()
    assert not os.path.islink(paths["init_script_path"])
    assert target.read_text() == "other\n"  # the link's target is left alone
    assert "replaced %s (mode 0755)" % paths["init_script_path"] in result["changes"]


def test_no_script_is_managed_without_its_content(prep, paths):
    result = prep(init_script_content=None, init_script_path=None)[0].run()
    assert result["init_script"] is None
    assert not os.path.exists(paths["init_script_path"])


# -- the podman drop-in ------------------------------------------------------------------------
def test_drop_in_is_written_with_the_settings_and_removed_without_them(prep, paths):
    conf = paths["containers_conf_path"]
    result = prep(podman_runtime="runc", podman_ulimits=["nofile=20000:20000", "nproc=4096:4096"])[0].run()
    assert result["containers_conf"] == {"path": conf, "state": "present", "changed": True}
    with open(conf) as handle:
        text = handle.read()
    assert text.endswith('[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n\n'
                         '[engine]\nruntime = "runc"\n')
    assert mode(conf) == 0o644
    remover = prep()[0]
    result = remover.run()
    assert result["containers_conf"] == {"path": conf, "state": "absent", "changed": True}
    assert result["changes"] == ["removed %s (no podman setting is asked for)" % conf]
    assert remover.diffs[0]["before"] == text and remover.diffs[0]["after"] == ""
    assert not os.path.exists(conf)
    assert prep()[0].run()["changed"] is False


def test_render_containers_conf():
    assert render_containers_conf(None, []) is None
    assert render_containers_conf("crun", []).endswith('\n[engine]\nruntime = "crun"\n')
    assert "[engine]" not in render_containers_conf(None, ["nofile=1:2"])
    assert render_containers_conf('/opt/my "runc"', []).endswith('runtime = "/opt/my \\"runc\\""\n')


# -- defaults per user -------------------------------------------------------------------------
def test_a_normal_user_gets_per_user_defaults(prep, tmp_path):
    home = str(tmp_path / "home")
    os.makedirs(home)
    result = prep(root=None, init_script_path=None, containers_conf_path=None, podman_runtime="runc",
                  euid=USER, environ={"HOME": home})[0].run()
    assert result["root"] == home + "/.local/share/terok"
    assert result["init_script"]["path"] == home + "/.local/libexec/terok/init-ssh-and-repo.sh"
    assert result["containers_conf"]["path"] == home + "/.config/containers/containers.conf.d/" + CONF_NAME
    assert os.path.isfile(result["containers_conf"]["path"])
    # the directories made on the way are the user's alone, as the XDG specification asks
    for made in ("/.local", "/.local/share", "/.local/libexec/terok", "/.config/containers/containers.conf.d"):
        assert mode(home + made) == 0o700, made
    assert result["user"]["uid"] == USER and result["user"]["privileged"] is False
    assert result["user"]["home"] == home


def test_xdg_variables_move_the_user_defaults(prep, tmp_path):
    environ = {"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "data"),
               "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = prep(root=None, containers_conf_path=None, podman_runtime="runc", euid=USER, environ=environ)[0].run()
    assert result["root"] == str(tmp_path / "data" / "terok")
    assert result["containers_conf"]["path"] == str(tmp_path / "config" / "containers" / "containers.conf.d" / CONF_NAME)


def test_terok_root_and_state_dir_from_the_environment(prep, tmp_path):
    environ = {"HOME": str(tmp_path / "home"), "TEROK_ROOT": str(tmp_path / "env-root"),
               "TEROK_STATE_DIR": str(tmp_path / "elsewhere" / "state")}
    result = prep(root=None, environ=environ)[0].run()
    assert result["root"] == str(tmp_path / "env-root")
    assert result["state_dir"] == str(tmp_path / "elsewhere" / "state")
    assert os.path.isdir(result["state_dir"]) and mode(result["state_dir"]) == 0o750


def test_the_terok_config_file_sets_the_root(prep, tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("paths:\n  root: %s\n" % (tmp_path / "conf-root"))
    result = prep(root=None, environ={"HOME": str(tmp_path / "home"), "TEROK_CONFIG_FILE": str(config)})[0].run()
    assert result["root"] == str(tmp_path / "conf-root")


def test_system_defaults_for_root():
    root = HostUser(0, 0, "root", "/root")
    assert default_init_script(root) == SYSTEM_INIT_SCRIPT == "/usr/local/libexec/terok/init-ssh-and-repo.sh"
    assert default_containers_conf(root, {"XDG_CONFIG_HOME": "/x"}) == SYSTEM_CONTAINERS_CONF
    user = HostUser(USER, USER, "dev", "/home/dev")
    assert default_containers_conf(user, {"XDG_CONFIG_HOME": "relative"}) == (
        "/home/dev/.config/containers/containers.conf.d/" + CONF_NAME)


# -- what the host lacks -----------------------------------------------------------------------
def test_missing_podman_commands_and_pyyaml(prep, monkeypatch, tmp_path):
    monkeypatch.setattr(_host_prep, "HAS_YAML", False)
    result = prep(executable="no-such-podman", commands=["git", "runc", "/opt/none/debootstrap"],
                  image="localhost/terok-task:latest", which=_which(("runc",)))[0].run()
    assert result["missing"] == ["podman", "git", "/opt/none/debootstrap", "PyYAML"]
    assert result["image_exists"] is None  # podman is missing: the role asks again after installing it


def test_without_pyyaml_a_config_file_that_was_not_read_is_a_warning(prep, monkeypatch, tmp_path):
    monkeypatch.setattr(_host_prep, "HAS_YAML", False)
    config = tmp_path / "config.yml"
    config.write_text("paths:\n  root: /elsewhere\n")
    checker = prep(root=None, check_mode=True, environ={"HOME": str(tmp_path / "home"), "TEROK_CONFIG_FILE": str(config)})[0]
    result = checker.run()
    assert result["root"] == "/var/lib/terok"
    assert len(checker.warnings) == 1 and str(config) in checker.warnings[0] and "PyYAML" in checker.warnings[0]


def test_packages_from_dpkg_query(prep):
    maker, runner = prep(packages=["podman", "python3-yaml", "runc"], installed=["podman"])
    result = maker.run()
    assert result["missing_packages"] == ["python3-yaml", "runc"]
    assert [call[0] for call in runner.calls if "dpkg-query" in call[0]] == ["/usr/bin/dpkg-query"]


def test_packages_from_rpm(prep):
    maker, _runner = prep(packages=["podman", "python3-pyyaml"], installed=["podman"], which=_which(("git", "rpm", "dnf")))
    assert maker.run()["missing_packages"] == ["python3-pyyaml"]


def test_packages_without_a_package_database_fail_naming_the_option(prep):
    with pytest.raises(TerokError) as failure:
        prep(packages=["podman"], which=_which(("git",)))[0].run()
    assert failure.value.option == "packages"


def test_no_packages_no_query(prep):
    maker, runner = prep()
    maker.run()
    assert not [call for call in runner.calls if "dpkg-query" in call[0]]


def test_image_exists(prep):
    assert prep(image="localhost/terok-task:latest", images=["localhost/terok-task:latest"])[0].run()["image_exists"] is True
    assert prep(image="localhost/other:latest", images=["localhost/terok-task:latest"])[0].run()["image_exists"] is False


def test_a_failing_image_check_names_the_option(prep):
    with pytest.raises(TerokError) as failure:
        prep(image="localhost/terok-task:latest", fail={"image": (125, "storage is broken")})[0].run()
    assert failure.value.option == "image"
    assert "storage is broken" in failure.value.msg


@pytest.mark.parametrize("text, which, family, pkg_mgr", [
    ('ID=debian\nVERSION_ID="12"\n', ("apt-get",), "Debian", "apt"),
    ('ID=ubuntu\nID_LIKE=debian\n', ("apt-get",), "Debian", "apt"),
    ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', ("dnf", "yum"), "RedHat", "dnf"),
    ('ID=centos\n', ("yum",), "RedHat", "yum"),
    ('ID="opensuse-leap"\nID_LIKE="suse opensuse"\n', ("zypper",), "Suse", "zypper"),
    ('ID=nixos\n', ("nix",), None, None),
])
def test_os_family_and_package_manager(prep, tmp_path, text, which, family, pkg_mgr):
    (tmp_path / "os-release").write_text(text)
    result = prep(which=_which(which + ("git",)))[0].run()
    assert (result["os_family"], result["pkg_mgr"]) == (family, pkg_mgr)


def test_no_os_release(prep):
    result = prep()[0].run()
    assert result["os_family"] is None and result["pkg_mgr"] is None


# -- refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize("params, option", [
    ({"root": "relative/root"}, "root"),
    ({"root_mode": "rwx"}, "root_mode"),
    ({"root_mode": "99"}, "root_mode"),
    ({"root_mode": True}, "root_mode"),
    ({"root_mode": 0o17777}, "root_mode"),
    ({"root_owner": "no-such-user-here"}, "root_owner"),
    ({"root_group": "no-such-group-here"}, "root_group"),
    ({"init_script_path": "/opt/a:b/init.sh"}, "init_script_path"),
    ({"init_script_path": "/opt/a,b/init.sh"}, "init_script_path"),
    ({"init_script_path": "init.sh"}, "init_script_path"),
    ({"init_script_content": None}, "init_script_path"),
    ({"init_script_content": 5}, "init_script_content"),
    ({"containers_conf_path": "conf.d/x.conf"}, "containers_conf_path"),
    ({"podman_runtime": "run c"}, "podman_runtime"),
    ({"podman_ulimits": "nofile=1:2"}, "podman_ulimits"),
    ({"podman_ulimits": ["nofile=1:2", "nofile"]}, "podman_ulimits[1]"),
    ({"commands": ["git", "rm -rf"]}, "commands[1]"),
    ({"packages": ["--force"]}, "packages[0]"),
    ({"image": "--rm"}, "image"),
])
def test_bad_options_are_refused_naming_the_option(params, option, paths, tmp_path, tree_snapshot):
    options = dict(paths, init_script_content=SCRIPT)
    options.update(params)
    before = tree_snapshot(str(tmp_path))
    with pytest.raises(TerokError) as failure:
        Request({key: value for key, value in options.items() if value is not None})
    assert failure.value.option == option
    assert failure.value.msg.startswith(option + ":")
    assert tree_snapshot(str(tmp_path)) == before


def test_parse_mode():
    assert parse_mode("0750") == 0o750 and parse_mode("750") == 0o750 and parse_mode(0o2770) == 0o2770


def test_a_symlinked_tree_below_the_root_is_refused(prep, paths, tmp_path):
    os.makedirs(paths["root"])
    os.makedirs(str(tmp_path / "outside"))
    os.symlink(str(tmp_path / "outside"), paths["root"] + "/core")
    with pytest.raises(TerokError) as failure:
        prep()[0].run()
    assert "symbolic link" in failure.value.msg
    assert failure.value.path == paths["root"] + "/core"
    assert os.listdir(str(tmp_path / "outside")) == []  # nothing made through the link


def test_a_symlinked_root_is_the_operators_choice(prep, paths, tmp_path):
    real = tmp_path / "real-root"
    real.mkdir(mode=0o750)
    os.chmod(str(real), 0o750)
    os.makedirs(os.path.dirname(paths["root"]))
    os.symlink(str(real), paths["root"])
    prep()[0].run()
    assert os.path.isdir(str(real / "core"))


def test_a_file_where_a_tree_goes_is_an_error(prep, paths):
    os.makedirs(paths["root"])
    with open(paths["root"] + "/archive", "w") as handle:
        handle.write("x")
    with pytest.raises(TerokError) as failure:
        prep()[0].run()
    assert failure.value.path == paths["root"] + "/archive"


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_owner_and_group_are_set_and_kept(prep, paths):
    result = prep(root_owner=str(USER), root_group=str(USER))[0].run()
    st = os.stat(result["state_dir"])
    assert (st.st_uid, st.st_gid) == (USER, USER)
    os.chown(result["archive_dir"], 0, 0)
    fixer = prep(root_owner=str(USER), root_group=str(USER))[0]
    assert fixer.run()["changes"] == ["changed the owner of %s from 0:0 to %d:%d" % (result["archive_dir"], USER, USER)]
    assert prep(root_owner=str(USER), root_group=str(USER))[0].run()["changed"] is False


# -- coming back after a reboot: podman-restart.service, lingering ---------------------------------
SYSTEMD = _which(("git", "dpkg-query", "apt-get", "systemctl", "loginctl"))


def _systemd_calls(runner):
    return [argv for argv in runner.calls if os.path.basename(argv[0]) in ("systemctl", "loginctl", "env")]


def test_without_systemd_nothing_is_enabled_and_a_warning_says_why(prep):
    hp, runner = prep(restart_on_boot=True, which=SYSTEMD, unit_state="enabled")  # Debian's podman package enabled the system unit
    result = hp.run()
    report = result["restart_on_boot"]
    assert report == {"scope": "system", "unit": "podman-restart.service", "systemd": False, "enabled": True,
                      "linger": None, "changed": False, "not_done": report["not_done"]}
    assert len(report["not_done"]) == 1 and hp.warnings == report["not_done"]
    assert report["not_done"][0].startswith("podman-restart.service is enabled, but nothing runs it: systemd is not "
                                            "PID 1 on this host")
    assert "podman start --all --filter restart-policy=always" in report["not_done"][0]
    # it only looked (is-enabled reads the unit files)
    assert _systemd_calls(runner) == [["/usr/bin/systemctl", "is-enabled", "podman-restart.service"]]


def test_without_systemd_a_user_hears_of_the_unit_and_of_lingering(prep, tmp_path):
    hp, runner = prep(restart_on_boot=True, which=SYSTEMD, euid=USER, environ={"HOME": str(tmp_path / "home")})
    report = hp.run()["restart_on_boot"]
    assert (report["scope"], report["enabled"], report["linger"], report["changed"]) == ("user", False, False, False)
    text = report["not_done"][0]
    assert text.startswith("the user unit podman-restart.service was not enabled and lingering was not enabled for ")
    assert not any("enabled lingering" in change for change in hp.changes)
    # the user's systemctl, with the runtime directory su does not set
    assert _systemd_calls(runner) == [["env", "XDG_RUNTIME_DIR=/run/user/%d" % USER],
                                      ["/usr/bin/systemctl", "--user", "is-enabled", "podman-restart.service"]]


def test_root_with_systemd_enables_the_unit_then_a_rerun_is_ok(prep):
    hp, runner = prep(restart_on_boot=True, which=SYSTEMD, booted=True)
    report = hp.run()["restart_on_boot"]
    assert (report["enabled"], report["changed"], report["not_done"], report["systemd"]) == (True, True, [], True)
    assert "enabled podman-restart.service (system)" in hp.changes and hp.warnings == []
    assert ["/usr/bin/systemctl", "enable", "podman-restart.service"] in runner.calls
    assert not any("--now" in argv for argv in runner.calls)  # enabled for the next boot, not started
    again, runner = prep(restart_on_boot=True, which=SYSTEMD, booted=True, unit_state="enabled")
    result = again.run()
    assert result["restart_on_boot"]["changed"] is False and not any("podman-restart" in c for c in result["changes"])
    assert ["/usr/bin/systemctl", "enable", "podman-restart.service"] not in runner.calls


def test_check_mode_predicts_the_unit_and_lingering_and_changes_nothing(prep, tmp_path):
    hp, runner = prep(restart_on_boot=True, check_mode=True, which=SYSTEMD, booted=True, euid=USER,
                      environ={"HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": "/run/user/%d" % USER})
    report = hp.run()["restart_on_boot"]
    assert (report["linger"], report["enabled"], report["changed"]) == (True, True, True)
    assert [argv[1:] for argv in _systemd_calls(runner)] == [["--user", "is-enabled", "podman-restart.service"]]
    assert not os.path.exists(str(tmp_path / "linger"))
    assert any(change.startswith("enabled lingering for ") for change in hp.changes)
    assert "enabled podman-restart.service (user)" in hp.changes


def test_a_user_gets_lingering_and_the_user_unit(prep, tmp_path):
    environ = {"HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": "/run/user/%d" % USER}
    hp, runner = prep(restart_on_boot=True, which=SYSTEMD, booted=True, euid=USER, environ=environ)
    report = hp.run()["restart_on_boot"]
    assert (report["linger"], report["enabled"], report["changed"], report["not_done"]) == (True, True, True, [])
    name = hp.user.name
    assert ["/usr/bin/loginctl", "enable-linger", name] in runner.calls
    assert ["/usr/bin/systemctl", "--user", "enable", "podman-restart.service"] in runner.calls
    assert os.path.exists(str(tmp_path / "linger" / name))
    again, runner = prep(restart_on_boot=True, which=SYSTEMD, booted=True, euid=USER, environ=environ, unit_state="enabled")
    assert again.run()["restart_on_boot"]["changed"] is False
    assert [os.path.basename(argv[0]) for argv in _systemd_calls(runner)] == ["systemctl"]  # only is-enabled


def test_refused_lingering_and_a_masked_unit_are_reported_not_failed(prep, tmp_path):
    hp, _runner = prep(restart_on_boot=True, which=SYSTEMD, booted=True, euid=USER, refuse=("loginctl",), unit_state="masked",
                       environ={"HOME": str(tmp_path / "home"), "XDG_RUNTIME_DIR": "/x"})
    result = hp.run()
    report = result["restart_on_boot"]
    assert (report["linger"], report["enabled"], report["changed"]) == (False, False, False)
    assert len(report["not_done"]) == 2 and hp.warnings == report["not_done"]
    assert "an administrator can run `loginctl enable-linger %s`" % hp.user.name in report["not_done"][0]
    assert report["not_done"][1].startswith("podman-restart.service is masked: left as it is")
    assert not any("enabled lingering" in change or "podman-restart" in change for change in result["changes"])


def test_a_failed_enable_and_a_missing_unit_are_reported(prep):
    hp, _runner = prep(restart_on_boot=True, which=SYSTEMD, booted=True, refuse=("systemctl",))
    report = hp.run()["restart_on_boot"]
    assert report["enabled"] is None and report["changed"] is False  # is-enabled was refused too: not known
    assert report["not_done"] == ["podman-restart.service was not enabled: Failed: Access denied"]
    hp, _runner = prep(restart_on_boot=True, which=SYSTEMD, booted=True, unit_state=None)
    report = hp.run()["restart_on_boot"]
    assert report["not_done"] == ["podman-restart.service was not enabled: Failed to get unit file state for "
                                  "podman-restart.service: No such file or directory"]
    hp, _runner = prep(restart_on_boot=True, which=_which())  # no systemctl at all
    assert hp.run()["restart_on_boot"]["enabled"] is None


def test_restart_on_boot_false_leaves_it_all_alone(prep):
    hp, runner = prep(which=SYSTEMD, booted=True, restart_on_boot=False)
    assert hp.run()["restart_on_boot"] is None and _systemd_calls(runner) == [] and hp.warnings == []
