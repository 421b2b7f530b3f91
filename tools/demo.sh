#!/usr/bin/env bash
# Demo of terok.lifecycle on this machine (placeholder: the lead fills it in).
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$TOOLS_DIR/bootstrap.sh"
PATH="$(test_path)"
export PATH
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
log "demo: not written yet (tools/demo.sh); environment is ready (CONTAINERS_CONF=$CONTAINERS_CONF)"
