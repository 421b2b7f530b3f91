#!/usr/bin/env bash
# terok_project against the real terok CLI (PyPI terok 0.9.1): the project.yml the module
# writes makes `terok project list` list the project and `terok task list` show the tasks that
# terok_task made; a rerun is ok, check mode writes nothing, absent is refused while the project
# has tasks and done with force. Then, as the test user terok-test ($TEROK_TEST_USER, rootless),
# the module finds terok's per-user configuration directory.
# TEROK_VENV names the virtualenv that holds terok (tools/bootstrap.sh makes it).
set -euo pipefail

# ansible-test passes runme.sh only PATH, HOME and LC_ALL; the test PATH carries terok-test-env,
# which prints the test settings (TEROK_VENV, CONTAINERS_CONF, ...)
if [[ -z "${TEROK_VENV:-}" ]] && command -v terok-test-env >/dev/null; then
    eval "$(terok-test-env)"
fi

: "${TEROK_VENV:?set TEROK_VENV to the virtualenv that holds terok 0.9.1 (make bootstrap makes .venv-terok)}"
if [[ ! -x "${TEROK_VENV}/bin/terok" && -f "${TEROK_VENV}.skipped" ]]; then
    echo "terok_project: skipped: $(cat "${TEROK_VENV}.skipped")"
    exit 0
fi
if [[ ! -x "${TEROK_VENV}/bin/terok" ]]; then
    echo "terok_project: ${TEROK_VENV}/bin/terok is missing; run make bootstrap" >&2
    exit 1
fi

user="${TEROK_TEST_USER:-terok-test}"
rootless=false
if [[ "$(id -u)" -eq 0 ]] && id -u "$user" >/dev/null 2>&1 && /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
    rootless=true
else
    echo "terok_project: no rootless part (needs root, the test user $user and PyYAML for /usr/bin/python3)"
fi

work="$(mktemp -d)"
chmod 0755 "$work"  # the test user's home for the rootless part is in it
trap 'rm -rf "${work}"' EXIT

ansible-playbook -i "${INVENTORY_PATH:-localhost,}" project.yml \
    -e "terok_venv=${TEROK_VENV}" -e "work=${work}" -e "rootless=${rootless}" -e "test_user=${user}" "$@"
