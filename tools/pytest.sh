#!/usr/bin/env bash
# Run pytest from .venv in the repository root, with the test PATH (real interpreters,
# the podman wrapper, terok-test-env) and CONTAINERS_CONF set.
#
#   tools/pytest.sh -q tests/init_script
#
# pytest's exit code 5 ("no tests collected") is reported as an error, never as a pass.
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_venv
PATH="$(test_path)"
export PATH
cd "$REPO_ROOT"
rc=0
"$VENV/bin/python" -m pytest "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    printf 'ERROR: pytest collected no tests (pytest %s): a run that tests nothing fails\n' "$*" >&2
fi
exit "$rc"
