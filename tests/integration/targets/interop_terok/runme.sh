#!/usr/bin/env bash
# Interop with the real terok CLI (PyPI terok 0.9.1): tasks made by the collection are seen
# by terok, tasks made by terok are found and archived by the collection.
# TEROK_VENV names the virtualenv that holds terok (tools/bootstrap.sh makes it).
set -euo pipefail

# ansible-test passes runme.sh only PATH, HOME and LC_ALL; the test PATH carries terok-test-env,
# which prints the test settings (TEROK_VENV, CONTAINERS_CONF, ...)
if [[ -z "${TEROK_VENV:-}" ]] && command -v terok-test-env >/dev/null; then
    eval "$(terok-test-env)"
fi

: "${TEROK_VENV:?set TEROK_VENV to the virtualenv that holds terok 0.9.1 (make bootstrap makes .venv-terok)}"
if [[ ! -x "${TEROK_VENV}/bin/terok" && -f "${TEROK_VENV}.skipped" ]]; then
    # tools/bootstrap.sh could not make the venv on this machine and wrote why
    echo "interop_terok: skipped: $(cat "${TEROK_VENV}.skipped")"
    exit 0
fi
if [[ ! -x "${TEROK_VENV}/bin/terok" ]]; then
    echo "interop_terok: ${TEROK_VENV}/bin/terok is missing; run make bootstrap" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

ansible-playbook -i "${INVENTORY_PATH:-localhost,}" interop.yml \
    -e "terok_venv=${TEROK_VENV}" -e "work=${work}" "$@"
