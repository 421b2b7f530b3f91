#!/usr/bin/env bash
# Lint the collection's documentation as antsibull-docs checks it: docs/docsite/ (links.yml,
# extra-docs.yml, the guides' RST) and, with --plugin-docs, the docs of every module and role
# entry point (markup, references to other plugins and options).
#
#   tools/docs-lint.sh [EXTRA ARGS for antsibull-docs lint-collection-docs]
#
# Uses .venv (tools/bootstrap.sh) and the collection as
# .cache/collections/ansible_collections/terok/lifecycle (this tree).
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_venv
[ -x "$VENV/bin/antsibull-docs" ] || die "antsibull-docs is missing from $VENV: run 'make bootstrap'"
COLLECTION="$COLLECTIONS_DIR/ansible_collections/terok/lifecycle"
[ -d "$COLLECTION/plugins" ] || die "$COLLECTION is missing: run 'make bootstrap'"

export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false

antsibull-docs lint-collection-docs --plugin-docs "$@" "$COLLECTION"
log "docs lint: no findings"
