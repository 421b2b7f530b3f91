# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to terok.lifecycle: not a public API, it may change in any release.
"""What every terok module shares on the Ansible side: options, the run context, the error boundary.

``run_module`` is the one place where a failure becomes ``fail_json``: every TerokError and
OSError that reaches a module is returned with ``msg``, and ``option`` / ``path`` where known.
"""

from __future__ import annotations

import os
import re
import threading

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.terok.lifecycle.plugins.module_utils._errors import TerokError
from ansible_collections.terok.lifecycle.plugins.module_utils._metadata import HAS_YAML, YAML_IMPORT_ERROR, load_yaml
from ansible_collections.terok.lifecycle.plugins.module_utils._paths import Layout
from ansible_collections.terok.lifecycle.plugins.module_utils._podman import CommandRunner, Podman, PodmanError
from ansible_collections.terok.lifecycle.plugins.module_utils._run_context import RunContext, RunGate

TYPE_CHECKING = False
if TYPE_CHECKING:  # the names are for annotations only: typing is not imported at run time
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from ansible_collections.terok.lifecycle.plugins.module_utils._podman import Result


def common_argument_spec() -> Dict[str, Dict[str, Any]]:
    """Options documented by the ``terok.lifecycle.common`` doc fragment."""
    return {
        "root": {"type": "path"},
        "executable": {"type": "str", "default": "podman"},
        "lock_timeout": {"type": "float", "default": 30.0},
    }


class ItemsModule(AnsibleModule):
    """An AnsibleModule whose argument errors in a list option of items name the item and its option.

    Ansible checks every item against the items' argument spec, but its message names only the
    list (``... found in tasks``). When that check fails, the items are checked again one option
    at a time against the same spec, and the first failure is reported as ``tasks[3].wait: ...``
    with ``option`` set to that name.
    """

    def __init__(self, items: str, **kwargs: Any) -> None:
        self._items = items
        self._checked = False
        super().__init__(**kwargs)
        self._checked = True

    def fail_json(self, msg: str, **kwargs: Any) -> None:
        if not self._checked:
            found = self._item_error()
            if found:
                msg, kwargs["option"] = found
        super().fail_json(msg=msg, **kwargs)

    def _item_error(self) -> Optional[Tuple[str, str]]:
        """(message, option) of the first item option that fails Ansible's checks, None if none does."""
        spec = self.argument_spec[self._items].get("options") or {}
        items = self.params.get(self._items)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            for key, option in spec.items():
                name = "%s[%d].%s" % (self._items, index, key)
                if item.get(key) is None:
                    if option.get("required"):
                        return "%s is required" % name, name
                    continue
                errors = ArgumentSpecValidator({key: option}).validate({key: item[key]}).error_messages
                if errors:
                    return "%s: %s" % (name, errors[0]), name
        return None


# what run_command returns when its prompt_regex matched: the process is still running then
_PROMPT_RC = 257


def _call(argv: List[str]) -> str:
    """A podman call as its messages name it: ``podman run``, ``podman logs`` (never its whole argv)."""
    return " ".join([os.path.basename(argv[0])] + argv[1:2]) if argv else "a command"


class _Deadline:
    """Kills a process that run_command started once ``timeout`` seconds passed.

    ``watch`` is run_command's ``before_communicate_callback`` (it starts a timer); ``end``,
    called after run_command returned, stops the timer, ends and reaps the process and says
    whether the deadline passed.
    """

    def __init__(self, timeout: Optional[float], runner: "ModuleRunner") -> None:
        self.timeout = None if timeout is None else max(timeout, 0)
        self.runner = runner
        self.expired = threading.Event()
        self.started: List[Tuple[Any, Optional[threading.Timer]]] = []

    def _expire(self, process: Any) -> None:
        if process.poll() is None:
            self.expired.set()
            process.kill()

    def watch(self, process: Any) -> None:
        timer = None
        if self.timeout is not None:
            timer = threading.Timer(self.timeout, self._expire, (process,))
            timer.daemon = True
        self.started.append((process, timer))
        self.runner.track(process)
        if timer is not None:
            timer.start()

    def end(self) -> bool:
        for process, timer in self.started:
            if timer is not None:
                timer.cancel()
            self.runner.untrack(process)
            if process.poll() is None:
                process.kill()
            process.wait()
            for pipe in (process.stdout, process.stderr):
                if pipe is not None and not pipe.closed:
                    pipe.close()
        return self.expired.is_set()


class ModuleRunner(CommandRunner):
    """Runs podman through ``AnsibleModule.run_command``, streaming calls included.

    Every call has a deadline: ``before_communicate_callback`` hands over the process, so that
    a timer (``_Deadline``) kills it when its time passes: a call that ends (``run``) then fails
    with a PodmanError naming the call and the deadline; a streaming call returns ``timeout``.
    A streaming call may also end early through ``prompt_regex``, which returns as soon as the
    line waited for is on stdout. Either way the process is ended and reaped before the call returns.
    """

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self._running: set = set()  # the processes started and not reaped yet
        self._guard = threading.RLock()  # reentrant: kill_all runs in a signal handler on the main thread
        self._killed = False  # kill_all was called: no further process starts

    def track(self, process: Any) -> None:
        """A process has started (``_Deadline.watch``); one that starts after ``kill_all`` is killed at once."""
        with self._guard:
            self._running.add(process)
            if self._killed:
                process.kill()

    def untrack(self, process: Any) -> None:
        with self._guard:
            self._running.discard(process)

    def kill_all(self) -> None:
        with self._guard:
            self._killed = True
            for process in self._running:
                if process.poll() is None:
                    process.kill()

    def _run_command(self, argv: List[str], **options: Any) -> Result:
        """``run_command`` that never calls ``fail_json`` (it may run on a worker thread): a process
        that cannot be started (``E2BIG``, ``ENOENT`` …) raises PodmanError naming the call."""
        if self._killed:
            raise PodmanError("%s was not run: the run was interrupted" % _call(argv))
        try:
            # argv goes to podman as it is: run_command would otherwise expand $VARS and ~ in every argument
            return self.module.run_command(argv, encoding="utf-8", errors="surrogateescape", expand_user_and_vars=False,
                                           handle_exceptions=False, **options)
        except OSError as exc:
            raise PodmanError("%s could not be run: %s" % (_call(argv), exc.strerror or exc))

    def run(self, argv: List[str], data: Optional[str] = None, timeout: Optional[float] = None) -> Result:
        deadline = _Deadline(timeout, self)
        result = self._run_command(argv, data=data, binary_data=True, before_communicate_callback=deadline.watch)
        if deadline.end():
            raise PodmanError("%s did not end within its deadline of %ss: it was killed" % (_call(argv), timeout))
        return result

    def stream(self, argv: List[str], needle: Optional[str], timeout: float) -> Tuple[str, Result]:
        deadline = _Deadline(timeout, self)
        rc, out, err = self._run_command(
            argv, prompt_regex=re.escape(needle) if needle else None, before_communicate_callback=deadline.watch,
        )
        expired = deadline.end()
        if needle and rc == _PROMPT_RC and needle in out:
            return "found", (rc, out, "")  # stderr holds run_command's note about a prompt, not the process's
        if expired:
            return "timeout", (rc, out, err)
        return "ended", (rc, out, err)


def make_context(module: AnsibleModule) -> RunContext:
    """Layout, podman and check mode of this module run; raise TerokError on bad settings."""
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    params = module.params
    if params["lock_timeout"] is not None and params["lock_timeout"] < 0:
        raise TerokError("lock_timeout must be 0 or more seconds, got %s" % params["lock_timeout"], option="lock_timeout")
    layout = Layout.resolve(params["root"], load_yaml=load_yaml)
    podman = Podman(params["executable"], ModuleRunner(module))
    context = RunContext(layout, podman, check_mode=module.check_mode, lock_timeout=params["lock_timeout"])
    for warning in layout.warnings:
        context.warn(warning)
    return context


def _failure(exc: Exception) -> Dict[str, Any]:
    """``msg``, and ``option`` / ``path`` where known, of a TerokError or an OSError."""
    if isinstance(exc, TerokError):
        failure = {"msg": exc.msg}
        if exc.option:
            failure["option"] = exc.option
        if exc.path:
            failure["path"] = exc.path
        return failure
    path = getattr(exc, "filename", None)
    detail = getattr(exc, "strerror", None) or str(exc)
    failure = {"msg": "%s: %s" % (path, detail) if path else detail}
    if path:
        failure["path"] = path
    return failure


def run_module(module: AnsibleModule, body: Callable[[Any, Dict[str, Any]], Dict[str, Any]],
               make: Callable[[AnsibleModule], RunGate] = make_context) -> None:
    """Run ``body(context, partial)`` and exit with its result: every module's one error boundary.

    ``make`` builds the run's context (the task modules': ``make_context``; terok_host_prep: a
    ``RunGate`` alone). Every TerokError or OSError becomes ``fail_json`` with the warnings
    gathered so far, ``changed`` (whether anything changed before the failure) and whatever
    ``body`` put in ``partial`` (for example the items a bulk run converged before failing).
    """
    context: Optional[RunGate] = None
    partial: Dict[str, Any] = {}
    try:
        context = make(module)
        result = body(context, partial)
    except (TerokError, OSError) as exc:
        for warning in context.warnings if context else ():
            module.warn(warning)
        failure = _failure(exc)
        failure.update(partial)
        module.fail_json(changed=bool(context and context.changed), **failure)
    else:
        for warning in context.warnings:
            module.warn(warning)
        module.exit_json(**result)
