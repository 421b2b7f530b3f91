# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import (
    CALL_TIMEOUT,
    LONG_CALL_TIMEOUT,
    STOP_MARGIN,
    Container,
    CommandRunner,
    Podman,
    PodmanError,
    RunRequest,
)
from ansible_collections.terok.lifecycle.plugins.module_utils._module_support import ModuleRunner
from ansible_collections.terok.lifecycle.tests.support.fake_podman import FakePodman, FakePodmanProgram
from ansible_collections.terok.lifecycle.tests.support.process_runner import ProcessRunner
from ansible_collections.terok.lifecycle.tests.unit.conftest import module_args

MISSING = "terok-test-no-such-podman-8f3k2"

# What `podman ps -a --format json` prints (podman 4/5), trimmed to the keys that matter.
PS_OUTPUT = json.dumps(
    [
        {
            "Id": "aaa111",
            "Image": "localhost/terok-agent:latest",
            "Names": ["demo-cli-k7m2q"],
            "State": "running",
            "ExitCode": 0,
            "Labels": {"terok.task": "k7m2q"},
        },
        {
            "Id": "bbb222",
            "Image": "localhost/terok-agent:latest",
            "Names": ["demo-run-h3abc", "alias-h3abc"],
            "State": "exited",
            "ExitCode": 3,
            "Labels": None,
        },
        {"Id": "ccc333", "Names": "demo-web-g0000", "State": "Created", "ExitCode": "n/a"},
        {"Id": "ddd444", "Names": ["no-state"]},
    ]
)


class Recorder(CommandRunner):
    """Answers every call with ``result`` (raw podman output) and records it; streaming calls run for real
    through ``streamer`` (the modules' runner, or the tests' process runner).

    Not a podman: for the client's argv and parsing; tests that need podman's behaviour use FakePodman.
    """

    def __init__(self, result=(0, "", ""), streamer=None):
        self.result = result
        self.streamer = streamer or ProcessRunner()
        self.calls = []
        self.timeouts = []
        self.spawned = []

    def run(self, argv, data=None, timeout=None):
        self.calls.append(list(argv))
        self.timeouts.append(timeout)
        return self.result

    def stream(self, argv, needle, timeout):
        self.spawned.append(list(argv))
        return self.streamer.stream(argv, needle, timeout)


def module_runner():
    """The runner the modules use, on a real AnsibleModule."""
    from ansible.module_utils.basic import AnsibleModule

    with module_args({}):
        return ModuleRunner(AnsibleModule(argument_spec={}))


@pytest.fixture(params=["module", "process"])
def streamer(request):
    """Each real runner: the modules' (run_command) and the tests' (subprocess)."""
    return module_runner() if request.param == "module" else ProcessRunner()


@pytest.fixture
def exe(podman_exe):
    return str(podman_exe)


def test_list_containers_is_one_ps_call(exe):
    runner = Recorder((0, PS_OUTPUT, ""))
    podman = Podman(exe, runner)
    podman.list_containers()
    assert runner.calls == [[exe, "ps", "-a", "--format", "json"]]
    assert podman.calls == 1


def test_list_containers_parses_names_state_exit_code(exe):
    containers = Podman(exe, Recorder((0, PS_OUTPUT, ""))).list_containers()
    assert sorted(containers) == ["alias-h3abc", "demo-cli-k7m2q", "demo-run-h3abc", "demo-web-g0000", "no-state"]
    cli = containers["demo-cli-k7m2q"]
    assert isinstance(cli, Container)
    assert (cli.name, cli.state, cli.exit_code, cli.running) == ("demo-cli-k7m2q", "running", 0, True)
    assert cli.labels == {"terok.task": "k7m2q"}
    assert cli.id == "aaa111"
    assert cli.image == "localhost/terok-agent:latest"
    run = containers["demo-run-h3abc"]
    assert (run.state, run.exit_code, run.running, run.labels) == ("exited", 3, False, {})
    assert containers["alias-h3abc"].name == "alias-h3abc"
    assert containers["alias-h3abc"].exit_code == 3
    web = containers["demo-web-g0000"]  # Names as a plain string, state lowercased, odd exit code
    assert (web.state, web.exit_code) == ("created", None)
    assert containers["no-state"].state == "unknown"


@pytest.mark.parametrize("out", ["", "[]", "null", "[]\n"])
def test_list_containers_empty(exe, out):
    assert Podman(exe, Recorder((0, out, ""))).list_containers() == {}


def test_list_containers_not_json_raises(exe):
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder((0, "Error: something\n{", ""))).list_containers()
    assert "JSON" in err.value.msg


def test_list_containers_failure_raises_with_stderr(exe):
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder((125, "", "Error: cannot connect to podman socket\n"))).list_containers()
    assert "rc=125" in err.value.msg
    assert "cannot connect to podman socket" in err.value.msg
    assert "podman ps" in err.value.msg
    assert isinstance(err.value, TerokError)


def test_logs(exe):
    runner = Recorder((0, "2026-11-28T09:15:02Z out\n", ""))
    assert Podman(exe, runner).logs("demo-cli-k7m2q") == "2026-11-28T09:15:02Z out\n"
    assert runner.calls == [[exe, "logs", "--timestamps", "demo-cli-k7m2q"]]


def test_logs_keeps_stderr_stream(exe):
    assert Podman(exe, Recorder((0, "out\n", "err\n"))).logs("c") == "out\nerr\n"
    assert Podman(exe, Recorder((0, "", "only err\n"))).logs("c") == "only err\n"


def test_logs_of_many_containers_is_one_call_split_by_name(exe):
    # podman 4.3.1's output of `podman logs --timestamps --names a b`: each line after its container's name
    out = "a 2026-11-28T09:15:02.1Z a out\nb 2026-11-28T09:15:01.0Z b out\na 2026-11-28T09:15:04.0Z a later\n"
    err = "a 2026-11-28T09:15:03.0Z a err\n"
    runner = Recorder((0, out, err))
    logs = Podman(exe, runner).logs_of(["a", "b"])
    assert runner.calls == [[exe, "logs", "--timestamps", "--names", "a", "b"]]
    assert logs == {
        "a": "2026-11-28T09:15:02.1Z a out\n2026-11-28T09:15:03.0Z a err\n2026-11-28T09:15:04.0Z a later\n",
        "b": "2026-11-28T09:15:01.0Z b out\n",
    }
    assert Podman(exe, Recorder((0, "", ""))).logs_of(["a", "b"]) == {"a": "", "b": ""}


def test_logs_of_many_containers_fails_on_a_line_of_no_container_asked_for(exe):
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder((0, "c 2026-11-28T09:15:02Z what\n", ""))).logs_of(["a", "b"])
    assert "no container asked for" in err.value.msg
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder((125, "", "Error: no container with name or ID \"b\" found"))).logs_of(["a", "b"])
    assert "a b" in err.value.msg and "no container" in err.value.msg


def test_logs_failure_raises_naming_the_container(exe):
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder((125, "", "Error: no such container"))).logs("demo-cli-k7m2q")
    assert "demo-cli-k7m2q" in err.value.msg
    assert "no such container" in err.value.msg


def test_remove_uses_double_dash_before_names(exe):
    runner = Recorder()
    Podman(exe, runner).remove(["demo-cli-k7m2q", "demo-web-k7m2q"])
    (argv,) = runner.calls
    assert argv[0] == exe
    assert argv[1] == "rm"
    assert "--force" in argv
    dash = argv.index("--")
    assert argv[dash + 1:] == ["demo-cli-k7m2q", "demo-web-k7m2q"]
    assert all(not arg.startswith("-") for arg in argv[dash + 1:])


def test_remove_nothing_calls_nothing(exe):
    runner = Recorder()
    Podman(exe, runner).remove([])
    assert runner.calls == []


def test_remove_failure_raises(exe):
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder((2, "", "Error: permission denied"))).remove(["c"])
    assert "permission denied" in err.value.msg


def test_typed_calls_build_their_argv_and_count(exe):
    runner = Recorder()
    podman = Podman(exe, runner)
    podman.start("c1")
    podman.unpause("c2")
    assert podman.image_exists("localhost/img:latest") is True
    assert runner.calls == [[exe, "start", "c1"], [exe, "unpause", "c2"], [exe, "image", "exists", "localhost/img:latest"]]
    assert podman.calls == 3


@pytest.mark.parametrize("rc, answer", [(0, True), (1, False), (125, None)])
def test_image_exists_tells_missing_from_unknown(exe, rc, answer):
    assert Podman(exe, Recorder((rc, "", ""))).image_exists("img") is answer


def run_request(**changes):
    values = dict(
        name="demo-cli-k7m2q", image="localhost/img:latest", command=["/bin/bash"], entrypoint=["/bin/bash", "/init.sh"],
        labels=[("a.b", "1")], annotations=[("dossier.meta_path", "/m")], volumes=["/w:/workspace:Z"],
        workdir="/workspace", env={"TOKEN": "s3cret", "A": "b c"},
    )
    values.update(changes)
    return RunRequest(**values)


def test_run_container_passes_the_environment_in_a_private_file_only(exe):
    runner = FakePodman()
    Podman(exe, runner).run_container(run_request())
    (argv,) = runner.calls
    (env_file,) = runner.env_files
    path, mode, text = env_file["path"], env_file["mode"], env_file["text"]
    assert argv[:4] == [exe, "run", "--detach", "--interactive"]
    assert argv[-3:] == ['["/bin/bash", "/init.sh"]', "localhost/img:latest", "/bin/bash"]
    assert ["--label", "a.b=1"] == argv[argv.index("--label"):argv.index("--label") + 2]
    assert mode == 0o600 and text == "TOKEN=s3cret\nA=b c\n"
    assert not any("s3cret" in arg for arg in argv)
    assert not os.path.exists(os.path.dirname(path))  # removed right after the call


PULL_REFUSED = (125, "Error: something\nError: initializing source docker://img: pull refused\n")


def test_a_failed_run_removes_what_it_made_and_names_a_missing_image(exe):
    runner = FakePodman(fail={"run": PULL_REFUSED}, images=[])
    with pytest.raises(PodmanError) as err:
        Podman(exe, runner).run_container(run_request())
    assert [argv[1:] for argv in runner.calls[1:]] == [
        ["rm", "--force", "--ignore", "--", "demo-cli-k7m2q"], ["image", "exists", "localhost/img:latest"]
    ]
    assert err.value.option == "image"
    assert "pull refused" in err.value.msg


def test_a_failed_run_with_the_image_present_says_podman_run_failed(exe):
    with pytest.raises(PodmanError) as err:
        Podman(exe, FakePodman(fail={"run": PULL_REFUSED}, images=["localhost/img:latest"])).run_container(run_request())
    assert err.value.option is None
    assert "podman run of image localhost/img:latest for container demo-cli-k7m2q failed (rc=125)" in err.value.msg


def test_missing_executable_raises_naming_it():
    runner = Recorder()
    podman = Podman(MISSING, runner)
    with pytest.raises(PodmanError) as err:
        podman.list_containers()
    assert MISSING in err.value.msg
    assert err.value.option == "executable"
    assert runner.calls == []


def test_executable_that_is_not_executable_is_missing(tmp_path):
    path = tmp_path / "podman"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o644)
    with pytest.raises(PodmanError) as err:
        Podman(str(path), Recorder()).path()
    assert err.value.option == "executable"


def test_executable_by_full_path(exe):
    podman = Podman(exe, Recorder())
    assert podman.path() == exe


def test_runners_run_argv_without_a_shell(streamer):
    rc, out, err = streamer.run(["/bin/sh", "-c", 'printf "%s|" "$@"; echo oops >&2; exit 3', "sh", "a b", "$HOME"])
    assert rc == 3
    assert out == "a b|$HOME|"
    assert err == "oops\n"


@pytest.mark.parametrize("call", ["run", "stream"])
def test_the_modules_runner_turns_a_process_that_cannot_start_into_a_podman_error(exe, call):
    # on a worker thread: run_command's own error handling would print a result (fail_json) there
    runner, caught = module_runner(), []
    argv = [exe, "run", "x" * (129 * 1024)]  # one argument over 128 KiB: exec(2) says E2BIG

    def work():
        try:
            runner.run(argv) if call == "run" else runner.stream(argv, None, 5)
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            caught.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert len(caught) == 1 and isinstance(caught[0], PodmanError), caught
    assert caught[0].msg == "podman run could not be run: Argument list too long"


def test_real_podman_call_through_the_fake_program(podman_exe, podman_ps, podman_log):
    podman_ps([{"Names": ["demo-cli-k7m2q"], "State": "exited", "ExitCode": 0}])
    containers = Podman(str(podman_exe), ProcessRunner()).list_containers()
    assert containers["demo-cli-k7m2q"].state == "exited"
    assert podman_log() == ["ps -a --format json"]


# Container control ----------------------------------------------------------------------------------


def script(tmp_path, body):
    path = tmp_path / "podman-script"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_start_and_stop_argv(exe):
    runner = Recorder()
    podman = Podman(exe, runner)
    podman.start("demo-cli-k7m2q")
    podman.stop("demo-cli-k7m2q", 10)
    assert runner.calls == [
        [exe, "start", "demo-cli-k7m2q"],
        [exe, "stop", "--time", "10", "demo-cli-k7m2q"],
    ]


def test_every_call_that_ends_has_a_deadline_and_a_stop_its_grace_plus_a_margin(exe):
    runner = Recorder((0, "[]", ""))
    podman = Podman(exe, runner)
    podman.list_containers()
    podman.start("demo-cli-k7m2q")
    podman.unpause("demo-cli-k7m2q")
    podman.remove(["demo-cli-k7m2q"])
    podman.logs("demo-cli-k7m2q")
    podman.image_exists("img")
    podman.create_secret("s", "v")
    podman.logs_of(["demo-cli-k7m2q"])
    podman.run_container(run_request())
    assert len(runner.timeouts) == len(runner.calls) and None not in runner.timeouts
    assert max(runner.timeouts) == LONG_CALL_TIMEOUT  # podman run: it may pull its image
    assert set(runner.timeouts) == {CALL_TIMEOUT, LONG_CALL_TIMEOUT}
    runner.timeouts.clear()
    podman.stop("demo-cli-k7m2q", 25)
    assert runner.timeouts == [25 + STOP_MARGIN]


def test_a_call_past_its_deadline_is_killed_and_fails_naming_the_call_and_the_deadline(tmp_path, streamer):
    pid_file = tmp_path / "pid"
    exe = script(tmp_path, 'echo $$ > "%s"\nexec sleep 30\n' % pid_file)
    started = time.monotonic()
    with pytest.raises(PodmanError) as err:
        streamer.run([exe, "stop", "--time", "0", "c"], timeout=0.5)
    assert time.monotonic() - started < 10
    assert err.value.msg == "podman-script stop did not end within its deadline of 0.5s: it was killed"
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(int(pid_file.read_text()), 0)


def test_kill_all_ends_the_modules_runners_processes_and_starts_no_more(tmp_path):
    runner, ended = module_runner(), []
    exe = script(tmp_path, "exec sleep 60\n")
    thread = threading.Thread(target=lambda: ended.append(runner.stream([exe, "logs", "--follow", "c"], "never", 60)))
    thread.start()
    deadline = time.monotonic() + 10
    while not runner._running and time.monotonic() < deadline:  # pylint: disable=protected-access
        time.sleep(0.01)
    runner.kill_all()
    thread.join(10)
    assert ended and ended[0][0] == "ended"  # killed, not timed out
    with pytest.raises(PodmanError) as err:
        runner.run([exe, "ps"], timeout=5)
    assert err.value.msg == "podman-script ps was not run: the run was interrupted"


def test_stop_failure_raises(exe):
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder((125, "", "Error: no such container"))).stop("c", 10)
    assert "no such container" in err.value.msg


@pytest.mark.parametrize("code", [0, 1, 124, 137])
def test_wait_returns_the_container_exit_code(tmp_path, code, streamer):
    exe = script(tmp_path, '[ "$1" = wait ] && [ "$2" = demo-run-k7m2q ] && echo %d\n' % code)
    assert Podman(exe, Recorder(streamer=streamer)).wait("demo-run-k7m2q", 5) == code


def test_wait_timeout_is_none_not_an_exit_code(tmp_path, streamer):
    exe = script(tmp_path, "exec sleep 5\n")
    assert Podman(exe, Recorder(streamer=streamer)).wait("c", 0.3) is None


def test_wait_failure_raises(tmp_path, streamer):
    exe = script(tmp_path, 'echo "Error: no container with name c" >&2; exit 125\n')
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder(streamer=streamer)).wait("c", 5)
    assert "no container" in err.value.msg


def test_follow_logs_finds_the_ready_line(tmp_path, streamer):
    exe = script(tmp_path, 'echo ">> cloning"; echo ">> init complete"; exec sleep 5\n')
    outcome, tail = Podman(exe, Recorder(streamer=streamer)).follow_logs("c", ">> init complete", 5)
    assert outcome == "found"
    assert tail[-1] == ">> init complete"


def test_follow_logs_reports_an_exit_before_ready(tmp_path, streamer):
    exe = script(tmp_path, 'echo "fatal: repository not found"\n')
    outcome, tail = Podman(exe, Recorder(streamer=streamer)).follow_logs("c", ">> init complete", 5)
    assert outcome == "exited"
    assert tail == ["fatal: repository not found"]


def test_follow_logs_times_out(tmp_path, streamer):
    exe = script(tmp_path, 'echo "still cloning"; exec sleep 5\n')
    outcome, tail = Podman(exe, Recorder(streamer=streamer)).follow_logs("c", ">> init complete", 0.3)
    assert outcome == "timeout"
    assert tail == ["still cloning"]


def test_follow_logs_passes_since(tmp_path, streamer):
    exe = script(tmp_path, 'echo "$*"\n')
    _outcome, tail = Podman(exe, Recorder(streamer=streamer)).follow_logs("c", "never", 5, since="1764321302.000000")
    assert tail == ["logs --follow --since 1764321302.000000 c"]


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("body, needle, timeout, outcome", [
    ('echo ">> init complete"; exec sleep 30\n', ">> init complete", 30, "found"),
    ("exec sleep 30\n", ">> init complete", 0.3, "timeout"),
])
def test_a_stream_that_stops_early_leaves_no_process(tmp_path, streamer, body, needle, timeout, outcome):
    exe = script(tmp_path, 'echo $$ > "%s"; %s' % (tmp_path / "pid", body))
    assert streamer.stream([exe], needle, timeout)[0] == outcome
    assert _gone(int((tmp_path / "pid").read_text()))  # killed and reaped, not left behind


def test_a_stream_reports_stderr_apart_and_the_exit_code(tmp_path, streamer):
    exe = script(tmp_path, "echo out; echo err >&2; exit 7\n")
    assert streamer.stream([exe], None, 5) == ("ended", (7, "out\n", "err\n"))


def test_streaming_calls_go_through_the_injected_runner(tmp_path):
    exe = script(tmp_path, 'echo ">> init complete"; echo 0\n')
    runner = Recorder()
    podman = Podman(exe, runner)
    podman.follow_logs("c", ">> init complete", 5)
    podman.wait("c", 5)
    assert runner.spawned == [[exe, "logs", "--follow", "c"], [exe, "wait", "c"]]
    assert runner.calls == []
    assert podman.calls == 2


# The fake podman of the test suites (tests/support/fake_podman.py) ---------------------------------


def test_the_fake_podman_spawns_what_it_emulates(exe):
    runner = FakePodman(follow="cloning\n>> init complete\n", wait=124)
    podman = Podman(exe, runner)
    assert podman.follow_logs("c", ">> init complete", 5) == ("found", ["cloning", ">> init complete"])
    assert podman.wait("c", 5) == 124
    assert runner.spawned == [[exe, "logs", "--follow", "c"], [exe, "wait", "c"]]
    assert runner.calls == []


def test_the_fake_podman_program_plays_the_same_podman(tmp_path):
    program = FakePodmanProgram(str(tmp_path / "bin"), stuck=["demo-web-h3abc"], fail={"logs": (125, "Error: no logs")})
    podman = Podman(program.path, ProcessRunner())
    podman.run_container(run_request())
    podman.stop("demo-cli-k7m2q", 10)
    with pytest.raises(PodmanError) as err:
        podman.logs("demo-cli-k7m2q")
    assert "no logs" in err.value.msg
    cli = podman.list_containers()["demo-cli-k7m2q"]
    assert (cli.state, cli.labels) == ("exited", {"a.b": "1"})
    (env_file,) = program.env_files()
    assert (env_file["mode"], env_file["dir_mode"], env_file["text"]) == (0o600, 0o700, "TOKEN=s3cret\nA=b c\n")
    assert program.subcommands() == ["run", "stop", "logs", "ps"]
    program.update(containers={"demo-web-h3abc": {"State": "running"}})
    podman.remove(["demo-web-h3abc"])
    assert podman.list_containers()["demo-web-h3abc"].running  # stuck: rm left it as it was
    assert program.subcommands() == ["run", "stop", "logs", "ps", "rm", "ps"]


def test_logs_keep_the_two_streams_in_time_order(exe):
    out = "2026-11-28T09:15:01.5Z first\n2026-11-28T09:15:03Z third\n"
    err = "2026-11-28T09:15:02.25Z second\n2026-11-28T09:15:04.1Z fourth"
    assert Podman(exe, Recorder((0, out, err))).logs("c") == (
        "2026-11-28T09:15:01.5Z first\n2026-11-28T09:15:02.25Z second\n"
        "2026-11-28T09:15:03Z third\n2026-11-28T09:15:04.1Z fourth\n"
    )


def test_logs_order_a_whole_second_before_its_fractions(exe):
    # podman trims trailing zeros of the nanoseconds: 09:15:02Z is 09:15:02.000000000Z
    out = "2026-11-28T09:15:02.25Z later\n"
    err = "2026-11-28T09:15:02Z sooner\n"
    assert Podman(exe, Recorder((0, out, err))).logs("c") == err + out


def test_a_strict_image_check_raises_with_podmans_answer(exe):
    with pytest.raises(PodmanError) as err:
        Podman(exe, Recorder((125, "", "Error: storage is broken"))).image_exists("img", strict=True)
    assert "storage is broken" in err.value.msg and "rc=125" in err.value.msg
