#!/usr/bin/env bash
# Type-check plugins/module_utils and plugins/modules with mypy (tools/mypy.ini), once for
# each Python version given, by default the oldest and the newest that the targets support:
#
#   tools/mypy.sh [PYTHON_VERSION...]       e.g. tools/mypy.sh 3.11
#
# mypy 1.16 (tools/requirements.txt) is the last release that accepts --python-version 3.8.
# It runs from .venv and finds ansible-core there (--python-executable). The code imports itself
# as ansible_collections.terok.lifecycle, so mypy reads the tree through
# .cache/mypy/ansible_collections/terok/lifecycle -> this tree, and the paths it prints are made
# relative to the tree again. Exit status: 0 when every version is clean.
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$#" -gt 0 ] || set -- 3.8 3.13
[ -x "$VENV/bin/mypy" ] || die "no mypy in $VENV: run tools/bootstrap.sh"

root="$CACHE_DIR/mypy"
link="$root/ansible_collections/terok/lifecycle"
if [ "$(readlink "$link" 2>/dev/null)" != "$REPO_ROOT" ]; then
    mkdir -p "$(dirname "$link")"
    ln -sfn "$REPO_ROOT" "$link"
fi

package=ansible_collections.terok.lifecycle.plugins
rc=0
cd "$root"
for version in "$@"; do
    echo "--- mypy --python-version $version"
    MYPYPATH="$root" "$VENV/bin/mypy" --config-file "$TOOLS_DIR/mypy.ini" \
        --python-executable "$VENV/bin/python" --python-version "$version" \
        --cache-dir "$root/cache" -p "$package.module_utils" -p "$package.modules" \
        | sed 's|^ansible_collections/terok/lifecycle/||' || rc=1
done
exit "$rc"
