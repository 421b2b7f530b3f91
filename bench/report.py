# -*- coding: utf-8 -*-
# Copyright (c) terok.lifecycle contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""From the raw measurements of bench/run.py to the rows of the table, as Markdown and JSON."""

from __future__ import annotations

import statistics

# Targets of issue 6.
CREATE_MAX_S = 5.0
RERUN_MAX_S = 2.0
INFO_MAX_S = 1.5
INFO_PODMAN = 1
SINGLE_MAX_RATIO = 1.15
INPROC_MAX_MS = 2.0
RSS_MAX_MB = 100.0
# Targets of issue 18 (tightening issue 14's): concurrency rows against one agent of the same run;
# a provision rerun against a ping+stat playbook on the same hosts. Removal keeps issue 14's.
AGENTS_MAX_RATIO = 1.3
MANY_AGENTS_MAX_RATIO = 1.5
STOP_MAX_RATIO = 1.3
REMOVE_MAX_RATIO = 1.5
RERUN_MAX_RATIO = 1.5


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _s(value):
    return "n/a" if value is None else ("%.2f s" % value)


def _ms(value):
    return "n/a" if value is None else ("%.2f ms" % (value * 1000.0))


def _mb(kb):
    return None if kb is None else kb / 1024.0


def _spans(tasks, prefix, count):
    found = [tasks.get("%s%d" % (prefix, i)) for i in range(1, count + 1)]
    return [t for t in found if t]


def _check(records, test):
    """Problems with the runs: a failed task or a result that is not what the row needs."""
    problems = []
    for record in records:
        summary = record.get("summary") or {}
        if record.get("status") != "ok":
            problems.append("%s: %s %s" % (record["name"], record.get("status"), summary.get("msg", "")))
        else:
            problem = test(record, summary)
            if problem:
                problems.append("%s: %s" % (record["name"], problem))
    return problems


def _row(key, benchmark, figure, target, met, detail, samples=None, value=None, unit=None, problems=None):
    if problems:
        met = False
        detail = "INVALID RUN: %s; %s" % ("; ".join(problems), detail)
    return {
        "id": key,
        "benchmark": benchmark,
        "figure": figure,
        "target": target,
        "met": met,
        "detail": detail,
        "value": value,
        "unit": unit,
        "samples": samples or [],
    }


def rows(raw, config):
    parts = config.get("parts") or ("main", "agents", "terok", "fleet")
    out = []
    if "main" in parts and raw.get("ansible"):
        out += main_rows(raw, config, with_terok="terok" in parts)
    if "agents" in parts and raw.get("ansible"):
        out += agent_rows(raw, config)
    if "fleet" in parts and raw.get("fleet"):
        out += fleet_rows(raw["fleet"], config)
    return out


def main_rows(raw, config, with_terok=True):
    tasks = raw["ansible"]["tasks"]
    hooks = raw["ansible"]["hooks"]
    reps, count, loop_items = config["reps"], config["tasks"], config["loop_items"]
    out = []

    # 1. bulk create, with the loop baseline -------------------------------------------------------
    create = _spans(tasks, "create r", reps)
    loop = _spans(tasks, "loop r", reps)
    create_s = median([t["span"] for t in create])
    per_item = [t["span"] / loop_items for t in loop]
    item_s = median(per_item)
    per_task = create_s / count if create_s else None
    speedup = (item_s / per_task) if (item_s and per_task) else None
    problems = _check(create, lambda r, s: None if (s.get("tasks") == count and s.get("tasks_changed") == count)
                      else "expected %d tasks created, got %s" % (count, s.get("tasks_changed")))
    problems += _check(loop, lambda r, s: None if s.get("items_changed") == loop_items
                       else "expected %d items created, got %s" % (loop_items, s.get("items_changed")))
    out.append(_row(
        "1", "bulk create: terok_tasks, %d new tasks in %d projects, one call (task wall)" % (count, config["projects"]),
        _s(create_s), "<= %.0f s" % CREATE_MAX_S, create_s is not None and create_s <= CREATE_MAX_S,
        "%s/task; loop of terok_task over %d items: %s/item, so bulk is %s faster per task; podman processes %s"
        % (_ms(per_task), loop_items, _s(item_s), "%.0fx" % speedup if speedup else "n/a",
           "/".join(str(t["podman"]) for t in create)),
        samples=[t["span"] for t in create], value=create_s, unit="s", problems=problems,
    ))
    out[-1]["baseline"] = {"loop_per_item_s": item_s, "samples": per_item, "speedup_per_task": speedup}

    # 2. rerun --------------------------------------------------------------------------------------------
    rerun = _spans(tasks, "rerun r", reps)
    rerun_s = median([t["span"] for t in rerun])
    problems = _check(rerun, lambda r, s: None if (s.get("tasks") == count and s.get("tasks_changed") == 0
                                                   and not s.get("changed"))
                      else "expected %d tasks all ok, %s changed" % (count, s.get("tasks_changed")))
    out.append(_row(
        "2", "bulk rerun: the same %d again, all ok" % count, _s(rerun_s), "<= %.0f s" % RERUN_MAX_S,
        rerun_s is not None and rerun_s <= RERUN_MAX_S,
        "%s/task; changed=false; podman processes %s"
        % (_ms(rerun_s / count if rerun_s else None), "/".join(str(t["podman"]) for t in rerun)),
        samples=[t["span"] for t in rerun], value=rerun_s, unit="s", problems=problems,
    ))

    # 3. listing --------------------------------------------------------------------------------------------
    info = _spans(tasks, "info r", reps)
    info_s = median([t["span"] for t in info])
    podman = [t["podman"] for t in info]
    containers = config["containers"]
    setup = tasks.get("setup containers")
    problems = _check(info, lambda r, s: None if (s.get("tasks") == count and
                                                  s.get("statuses", {}).get("running", 0) == containers)
                      else "expected %d tasks, %d running; got %s" % (count, containers, s.get("statuses")))
    if containers:
        problems += _check([setup] if setup else [], lambda r, s: None if s.get("tasks_changed") == containers
                           else "expected %d containers started, got %s" % (containers, s.get("tasks_changed")))
    out.append(_row(
        "3", "listing: terok_task_info over %d tasks, %d with containers (task wall)" % (count, containers),
        _s(info_s), "<= %.1f s" % INFO_MAX_S, info_s is not None and info_s <= INFO_MAX_S,
        "%s/task; statuses %s" % (_ms(info_s / count if info_s else None),
                                  (info[0].get("summary") or {}).get("statuses") if info else "n/a"),
        samples=[t["span"] for t in info], value=info_s, unit="s", problems=problems,
    ))
    out.append(_row(
        "3b", "listing: podman processes per terok_task_info call", "%s" % "/".join(str(p) for p in podman),
        "exactly %d" % INFO_PODMAN, bool(podman) and all(p == INFO_PODMAN for p in podman),
        "counted by a podman shim first on PATH, each run", samples=podman, value=max(podman) if podman else None,
        unit="processes",
    ))

    # 4. single call ------------------------------------------------------------------------------------------
    pairs = config["single_pairs"]
    ours = _spans(tasks, "single terok_task ", pairs)
    stat = _spans(tasks, "single stat ", pairs)
    ours_s, stat_s = median([t["span"] for t in ours]), median([t["span"] for t in stat])
    ratio = ours_s / stat_s if (ours_s and stat_s) else None
    problems = _check(ours, lambda r, s: "changed" if s.get("changed") else None)
    hook_single = median([h["wall_s"] for h in hooks.get("single", [])])
    hook_stat = median([h["wall_s"] for h in hooks.get("stat", [])])
    out.append(_row(
        "4", "single call: terok_task state=present no-op (task without container) vs ansible.builtin.stat (ratio of median walls)",
        "%.2fx" % ratio if ratio else "n/a", "<= %.2fx" % SINGLE_MAX_RATIO,
        ratio is not None and ratio <= SINGLE_MAX_RATIO,
        "terok_task %s vs stat %s (%d runs each); module process alone: %s vs %s; podman processes %s"
        % (_s(ours_s), _s(stat_s), pairs, _ms(hook_single), _ms(hook_stat),
           "/".join(str(t["podman"]) for t in ours[:3])),
        samples=[[a["span"] for a in ours], [b["span"] for b in stat]], value=ratio, unit="x", problems=problems,
    ))
    running = _spans(tasks, "single running terok_task ", pairs)
    if running:
        running_s = median([t["span"] for t in running])
        ratio_b = running_s / stat_s if (running_s and stat_s) else None
        problems = _check(running, lambda r, s: None if (not s.get("changed") and s.get("task_status") == "running")
                          else "expected an unchanged running task, got %s" % s.get("task_status"))
        out.append(_row(
            "4b", "single call: the same no-op on a task whose container runs, vs the same stat runs",
            "%.2fx" % ratio_b if ratio_b else "n/a", "<= %.2fx" % SINGLE_MAX_RATIO,
            ratio_b is not None and ratio_b <= SINGLE_MAX_RATIO,
            "terok_task %s vs stat %s; podman processes %s"
            % (_s(running_s), _s(stat_s), "/".join(str(t["podman"]) for t in running[:3])),
            samples=[t["span"] for t in running], value=ratio_b, unit="x", problems=problems,
        ))

    # 5. in-process ---------------------------------------------------------------------------------------------
    inproc = raw.get("inproc") or []
    totals = [(r["import_s"] + r["create_s"]) / r["tasks"] for r in inproc]
    total = median(totals)
    create_only = median([r["create_s"] / r["tasks"] for r in inproc])
    problems = ["run %d: created %s of %s" % (i + 1, r["created"], r["tasks"]) for i, r in enumerate(inproc)
                if r["created"] != r["tasks"] or r["rerun_changed"]]
    out.append(_row(
        "5", "library in-process: import + converge_many of %d new tasks, per task" % count,
        _ms(total), "<= %.0f ms" % INPROC_MAX_MS, total is not None and total * 1000 <= INPROC_MAX_MS,
        "import %s; create alone %s/task; rerun %s/task; fake podman (ps -> [])"
        % (_ms(median([r["import_s"] for r in inproc])), _ms(create_only),
           _ms(median([r["rerun_s"] / r["tasks"] for r in inproc]))),
        samples=totals, value=total, unit="s/task", problems=problems,
    ))

    # 6. real terok -------------------------------------------------------------------------------------------
    terok = raw.get("terok")
    if not with_terok:
        pass
    elif terok and not terok.get("error"):
        new_s = median([r["s"] for r in terok["new"]])
        out.append(_row(
            "6a", "terok 0.9.1: terokctl task new, per call", _s(new_s), "(comparison)", None,
            "ours: terok_task loop %s/item, terok_tasks %s/task; podman processes %s"
            % (_s(item_s), _ms(per_task), "/".join(str(r["podman"]) for r in terok["new"])),
            samples=[r["s"] for r in terok["new"]], value=new_s, unit="s",
        ))
        list_total = median([r["total_s"] for r in terok["list"]])
        list_call = median([s for r in terok["list"] for s in r["per_call_s"]])
        listed = [r["listed"] for r in terok["list"]]
        lproblems = ["listed %s tasks, expected %d" % (listed, count)] if any(n != count for n in listed) else None
        out.append(_row(
            "6b", "terok 0.9.1: terok task list <project> over the same %d tasks (%d calls)"
            % (count, config["projects"]), _s(list_total), "(comparison)", None,
            "%s per call; podman processes per call %s; ours: terok_task_info %s for all, %s"
            % (_s(list_call), "/".join(str(p) for p in terok["list"][0]["podman"][:3]) + "...", _s(info_s),
               "%.1fx faster" % (list_total / info_s) if info_s else "n/a"),
            samples=[r["total_s"] for r in terok["list"]], value=list_total, unit="s", problems=lproblems,
        ))
    else:
        reason = (terok or {}).get("error") or "no terok venv (.venv-terok or /tmp/terok-venv)"
        out.append(_row("6", "terok 0.9.1 comparison", "not measured", "(comparison)", None, reason))

    # 7. peak memory --------------------------------------------------------------------------------------------
    for key, label, name in (("7", "terok_tasks, %d new tasks" % count, "create"),
                             ("7b", "terok_tasks rerun, %d tasks" % count, "rerun"),
                             ("7c", "terok_task_info, %d tasks" % count, "info")):
        samples = [_mb(h["maxrss_kb"]) for h in hooks.get(name, [])]
        value = max(samples) if samples else None
        out.append(_row(
            key, "peak RSS of the module process: %s" % label, "n/a" if value is None else "%.1f MB" % value,
            "<= %.0f MB" % RSS_MAX_MB, value is not None and value <= RSS_MAX_MB,
            "ru_maxrss of the AnsiballZ process itself (podman children excluded); module process wall %s"
            % _s(median([h["wall_s"] for h in hooks.get(name, [])])),
            samples=samples, value=value, unit="MB",
        ))
    return out


def _ratio(a, b):
    return a / b if (a is not None and b) else None


def _x(value):
    return "n/a" if value is None else "%.2fx" % value


def agent_rows(raw, config):
    """Rows 8: concurrent container work, each group against one agent of the same run."""
    tasks = raw["ansible"]["tasks"]
    reps, count, many = config["reps"], config["agents"], config["many_agents"]
    init, stop_timeout = config["agent_init"], config["agent_stop_timeout"]
    option = raw.get("agents_concurrency_option")
    if option:
        setting = "terok_tasks concurrency: its default (%s)" % option.get("default")
    else:
        setting = "terok_tasks has no concurrency option (sequential)"

    def spans(name):
        return _spans(tasks, "agents %s r" % name, reps)

    def started(n):
        return lambda r, s: None if (s.get("tasks") == n and s.get("tasks_changed") == n
                                     and s.get("statuses") == {"running": n}) \
            else "expected %d started and running, got %s" % (n, s.get("statuses"))

    def changed(n, status=None):
        def test(r, s):
            if s.get("tasks") != n or s.get("tasks_changed") != n:
                return "expected %d changed, got %s" % (n, s.get("tasks_changed"))
            if status and s.get("statuses") != {status: n}:
                return "expected %d %s, got %s" % (n, status, s.get("statuses"))
            return None
        return test

    out = []
    one = {kind: spans("one " + kind) for kind in ("start", "stop", "remove")}
    one_s = {kind: median([t["span"] for t in records]) for kind, records in one.items()}
    base_problems = {
        "start": _check(one["start"], started(1)),
        "stop": _check(one["stop"], changed(1, "stopped")),
        "remove": _check(one["remove"], changed(1)),
    }
    # the stop rows mean something only if the agents really ignore SIGTERM: one stop lasts stop_timeout
    for record in one["stop"]:
        if record["span"] < stop_timeout:
            base_problems["stop"].append("%s: %.2f s, less than stop_timeout %d s: the agent did not ignore SIGTERM"
                                         % (record["name"], record["span"], stop_timeout))
    for key, group, kind, n, target, label, test in (
        ("8", "six", "start", count, AGENTS_MAX_RATIO,
         "%d agents (init %g s) started in one terok_tasks call" % (count, init), started(count)),
        ("8b", "many", "start", many, MANY_AGENTS_MAX_RATIO,
         "%d agents (init %g s) started in one call" % (many, init), started(many)),
        ("8c", "six", "stop", count, STOP_MAX_RATIO,
         "%d agents ignoring SIGTERM stopped in one call, stop_timeout %d" % (count, stop_timeout),
         changed(count, "stopped")),
        ("8d", "six", "remove", count, REMOVE_MAX_RATIO, "%d stopped agents removed (absent) in one call" % count,
         changed(count)),
    ):
        records = spans("%s %s" % (group, kind))
        figure_s = median([t["span"] for t in records])
        ratio = _ratio(figure_s, one_s[kind])
        out.append(_row(
            key, "%s, vs one agent (ratio of median task walls)" % label, _x(ratio), "<= %.1fx one" % target,
            ratio is not None and ratio <= target,
            "%d: %s vs one: %s (runs %s vs %s); %s"
            % (n, _s(figure_s), _s(one_s[kind]), "/".join("%.2f" % t["span"] for t in records),
               "/".join("%.2f" % t["span"] for t in one[kind]), setting),
            samples=[[t["span"] for t in records], [t["span"] for t in one[kind]]], value=ratio, unit="x",
            problems=_check(records, test) + base_problems[kind],
        ))
    seq = spans("seq start")
    if option and seq:
        seq_s = median([t["span"] for t in seq])
        six_s = median([t["span"] for t in spans("six start")])
        out.append(_row(
            "8e", "reference: the %d agents of row 8 started with concurrency: 1 (one after another), vs one agent"
            % count, _x(_ratio(seq_s, one_s["start"])), "(reference)", None,
            "%s vs one %s; row 8 (default concurrency) is %s faster"
            % (_s(seq_s), _s(one_s["start"]), _x(_ratio(seq_s, six_s))),
            samples=[t["span"] for t in seq], value=_ratio(seq_s, one_s["start"]), unit="x",
            problems=_check(seq, started(count)),
        ))
    else:
        out.append(_row("8e", "reference: %d agents started with concurrency: 1" % count, "not measured",
                        "(reference)", None, "terok_tasks does not document a concurrency option yet: rows 8-8d "
                        "are themselves the sequential figures"))
    return out


def _fleet_label(size):
    return "local connection, 1 host" if size == 0 else "SSH, %d host%s" % (size, "" if size == 1 else "s")


def _fleet_problems(records, kind, hosts):
    problems = []
    for record in records:
        tag = "run %d %s%s" % (record.get("rep", 0), kind, " (mitogen)" if record.get("mitogen") else "")
        recap = record.get("recap") or {}
        if record["rc"] != 0:
            problems.append("%s: rc %s" % (tag, record["rc"]))
        if len(recap) != hosts:
            problems.append("%s: %d hosts in the recap, expected %d" % (tag, len(recap), hosts))
        bad = [h for h, r in recap.items() if r["failed"] or r["unreachable"]]
        if bad:
            problems.append("%s: failed or unreachable %s" % (tag, ",".join(sorted(bad))))
        if kind == "rerun" and any(r["changed"] for r in recap.values()):
            problems.append("%s: changed %s" % (tag, ",".join(sorted(h for h, r in recap.items() if r["changed"]))))
        if kind in ("first", "cleanup") and any(not r["changed"] for r in recap.values()):
            problems.append("%s: unchanged %s" % (tag, ",".join(sorted(h for h, r in recap.items() if not r["changed"]))))
        if kind == "status" and record.get("report_rows") != 3 * hosts:
            problems.append("%s: %s report rows, expected %d" % (tag, record.get("report_rows"), 3 * hosts))
    return problems


def _top_tasks(records, top=3):
    totals = {}
    for record in records:
        for name, span in (record.get("spans") or {}).items():
            totals[name] = totals.get(name, 0.0) + span
    whole = sum(totals.values())
    if not whole:
        return "n/a"
    best = sorted(totals.items(), key=lambda item: -item[1])[:top]
    return ", ".join("%s %.0f%%" % (name, 100.0 * span / whole) for name, span in best)


def fleet_rows(fleet, config):
    """Rows 9: the playbooks on N hosts, with the ping+stat baseline of the same hosts in the same run."""
    runs = fleet.get("runs") or []
    out = []
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    figures = {}

    def pick(size, kind, mitogen=False):
        return [r for r in runs if r["size"] == size and r["kind"] == kind and r["mitogen"] == mitogen]

    for size in fleet["sizes"]:
        hosts = max(size, 1)
        walls = {kind: median([r["wall_s"] for r in pick(size, kind)]) for kind in
                 ("first", "rerun", "status", "cleanup", "baseline")}
        cpu = {kind: median([r["controller_cpu_s"] for r in pick(size, kind)]) for kind in ("first", "rerun", "baseline")}
        figures[size] = walls
        ratio = _ratio(walls["rerun"], walls["baseline"])
        problems = _fleet_problems(pick(size, "rerun"), "rerun", hosts) + \
            _fleet_problems(pick(size, "baseline"), "baseline", hosts)
        forks = "" if size == 0 else "forks %d; " % hosts
        out.append(_row(
            "9" + next(letters), "fleet, %s: provision.yml rerun (no change) vs a ping+stat playbook (whole "
            "ansible-playbook walls)" % _fleet_label(size), _x(ratio), "<= %.1fx" % RERUN_MAX_RATIO,
            ratio is not None and ratio <= RERUN_MAX_RATIO,
            "rerun %s vs baseline %s; %s%s CPU per host: rerun %s, baseline %s; rerun's largest tasks: %s"
            % (_s(walls["rerun"]), _s(walls["baseline"]), forks,
               "controller (ansible-playbook and its ssh)" if size else "ansible-playbook and the modules",
               _s(_ratio(cpu["rerun"], hosts)),
               _s(_ratio(cpu["baseline"], hosts)), _top_tasks(pick(size, "rerun"))),
            samples=[[r["wall_s"] for r in pick(size, "rerun")], [r["wall_s"] for r in pick(size, "baseline")]],
            value=ratio, unit="x", problems=problems,
        ))
        problems = []
        for kind in ("first", "status", "cleanup"):
            problems += _fleet_problems(pick(size, kind), kind, hosts)
        out.append(_row(
            "9" + next(letters), "fleet, %s: provision.yml first run / status.yml / cleanup.yml (archives 1 job "
            "per host)" % _fleet_label(size),
            "%s / %s / %s" % (_s(walls["first"]), _s(walls["status"]), _s(walls["cleanup"])), "(figure)", None,
            "per host: %s / %s / %s; first run controller CPU per host %s; baseline %s"
            % (_s(_ratio(walls["first"], hosts)), _s(_ratio(walls["status"], hosts)),
               _s(_ratio(walls["cleanup"], hosts)), _s(_ratio(cpu["first"], hosts)), _s(walls["baseline"])),
            samples={kind: [r["wall_s"] for r in pick(size, kind)] for kind in ("first", "status", "cleanup")},
            value=walls["first"], unit="s", problems=problems,
        ))
    ssh = sorted(size for size in fleet["sizes"] if size)
    if len(ssh) >= 2:
        low, high = ssh[-2], ssh[-1]

        def slope(kind):
            a, b = figures[low].get(kind), figures[high].get(kind)
            return None if a is None or b is None else (b - a) / float(high - low)

        out.append(_row(
            "9" + next(letters), "fleet: cost of each further SSH host, N=%d to N=%d (forks = N, on this machine's "
            "%s cores shared by controller and hosts)" % (low, high, config.get("nproc", "?")),
            "rerun %s/host" % _s(slope("rerun")), "(figure)", None,
            "first run %s/host, status %s/host, cleanup %s/host, ping+stat %s/host"
            % (_s(slope("first")), _s(slope("status")), _s(slope("cleanup")), _s(slope("baseline"))),
            value=slope("rerun"), unit="s/host",
        ))
    mitogen_size = max(fleet["sizes"]) if fleet["sizes"] else None
    mit = {kind: pick(mitogen_size, kind, True) for kind in ("rerun", "status", "baseline")}
    if mit["rerun"]:
        hosts = max(mitogen_size, 1)
        m = {kind: median([r["wall_s"] for r in records]) for kind, records in mit.items()}
        linear = figures[mitogen_size]
        problems = []
        for kind, records in mit.items():
            problems += _fleet_problems(records, kind, hosts)
        out.append(_row(
            "9" + next(letters), "fleet, %s, strategy mitogen_linear (%s): provision.yml rerun vs the linear rerun"
            % (_fleet_label(mitogen_size), fleet.get("mitogen")), _x(_ratio(m["rerun"], linear["rerun"])),
            "(figure)", None,
            "1 run each; works with the collection: %s; rerun %s vs %s; status %s vs %s; ping+stat %s vs %s; mitogen rerun vs "
            "mitogen baseline %s"
            % ("no" if problems else "yes (rerun unchanged, status, baseline, no failure)",
               _s(m["rerun"]), _s(linear["rerun"]), _s(m["status"]), _s(linear["status"]), _s(m["baseline"]),
               _s(linear["baseline"]), _x(_ratio(m["rerun"], m["baseline"]))),
            samples={kind: [r["wall_s"] for r in records] for kind, records in mit.items()},
            value=_ratio(m["rerun"], linear["rerun"]), unit="x", problems=problems,
        ))
    else:
        out.append(_row("9" + next(letters), "fleet, strategy mitogen_linear", "not measured", "(figure)", None,
                        str(fleet.get("mitogen"))))
    return out


def _load_text(load):
    return "/".join("%.2f" % v for v in load) if load else "?"


def header(info, config):
    return (
        "Machine: %s x %s (nproc %s), Linux %s, Python %s, ansible-core %s, %s, terok %s; commit %s; %s; "
        "load average %s at start, %s at end; each figure the median of %d runs%s; whole benchmark %.0f s"
        % (info["nproc"], info["cpu"], info["nproc"], info["kernel"], info["python"], info["ansible_core"],
           info.get("podman") or "podman ?", info.get("terok") or "n/a", info.get("commit") or "?", info["date"],
           _load_text(info.get("loadavg_start")), _load_text(info.get("loadavg_end")), config["reps"],
           ("; fleet rows: the median of %d reruns, status and ping+stat runs on %d fresh fleet(s) per N, first run "
            "and cleanup once per fleet, forks = N, cold SSH connections each run" % (config["fleet_reps"],
                                                                                      config["fleet_fresh"]))
           if "fleet" in (config.get("parts") or []) else "", config.get("total_s", 0))
    )


def markdown(info, config, table):
    lines = [header(info, config), "", "| # | benchmark | figure | target | met | detail |", "|---|---|---|---|---|---|"]
    for row in table:
        met = "—" if row["met"] is None else ("yes" if row["met"] else "**no**")
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            row["id"], row["benchmark"], row["figure"], row["target"].replace("<=", "≤"), met,
            row["detail"].replace("|", "/")))
    return "\n".join(lines) + "\n"


def document(info, config, table, raw):
    return {"machine": info, "config": config, "rows": table, "raw": raw}
