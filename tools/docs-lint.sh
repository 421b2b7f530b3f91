#!/usr/bin/env bash
# Lint the collection's documentation as antsibull-docs checks it: docs/docsite/ (links.yml,
# extra-docs.yml, the guides' RST) and, with --plugin-docs, the docs of every module and role
# entry point (markup, references to other plugins and options). Also the changelog, as
# antsibull-changelog checks and renders it:
#   - the fragments in changelogs/fragments/ (antsibull-changelog lint) and
#     changelogs/changelog.yaml (antsibull-changelog lint-changelog-yaml --strict) are valid;
#   - no fragment waits while galaxy.yml's version is already a release in changelog.yaml (such
#     a fragment would never reach CHANGELOG.rst: `make changelog` adds it to that release);
#   - CHANGELOG.rst is what `antsibull-changelog generate` writes now (else: `make changelog`).
#
#   tools/docs-lint.sh [EXTRA ARGS for antsibull-docs lint-collection-docs]
#
# Uses .venv (tools/bootstrap.sh) and the collection as
# .cache/collections/ansible_collections/terok/lifecycle (this tree).
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_venv
for tool in antsibull-docs antsibull-changelog; do
    [ -x "$VENV/bin/$tool" ] || die "$tool is missing from $VENV: run 'make bootstrap'"
done
COLLECTION="$COLLECTIONS_DIR/ansible_collections/terok/lifecycle"
[ -d "$COLLECTION/plugins" ] || die "$COLLECTION is missing: run 'make bootstrap'"

export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false

# pending_fragments: the fragments that no release of changelogs/changelog.yaml holds, and
# whether galaxy.yml's version is one of its releases; fails when both
pending_fragments() {
    "$VENV/bin/python" - <<'EOF'
import os
import sys

import yaml

with open("galaxy.yml") as f:
    version = str(yaml.safe_load(f)["version"])
with open("changelogs/changelog.yaml") as f:
    releases = yaml.safe_load(f).get("releases") or {}
known = {name for release in releases.values() for name in release.get("fragments") or []}
folder = "changelogs/fragments"
pending = sorted(
    name for name in (os.listdir(folder) if os.path.isdir(folder) else [])
    if name.endswith((".yml", ".yaml")) and not name.startswith(".") and name not in known
)
if pending and version in releases:
    for name in pending:
        print(f"{folder}/{name}: in no release, and galaxy.yml's version {version} is already a release "
              "in changelogs/changelog.yaml, so CHANGELOG.rst would never show it")
    print(f"While {version} is unpublished, run 'make changelog' (adds the fragments to {version} and "
          "writes CHANGELOG.rst); once it is published, raise galaxy.yml's version first.")
    sys.exit(1)
print(f"changelog: {len(pending)} fragment(s) wait for {version}" if pending else "changelog: no fragment waits")
EOF
}

# changelog_lint: the changelog checks above, in a subshell at the repository root; the
# first that fails ends it (explicitly: set -e does not act in a function called with ||)
changelog_lint() (
    cd "$REPO_ROOT" || exit 1
    antsibull-changelog lint || exit 1
    antsibull-changelog lint-changelog-yaml --strict changelogs/changelog.yaml || exit 1
    pending_fragments || exit 1
    generated="$(mktemp)" || exit 1
    trap 'rm -f "$generated"' EXIT
    antsibull-changelog generate --output "$generated" || exit 1
    if ! diff -u CHANGELOG.rst "$generated"; then
        echo "CHANGELOG.rst differs from what antsibull-changelog generates from changelogs/changelog.yaml (above): run 'make changelog'"
        exit 1
    fi
)

rc=0
echo '--- changelog (antsibull-changelog)'
changelog_lint || rc=1
echo '--- antsibull-docs lint-collection-docs'
antsibull-docs lint-collection-docs --plugin-docs "$@" "$COLLECTION" || rc=1
[ "$rc" = 0 ] || die "docs lint: findings above"
log "docs lint: no findings"
