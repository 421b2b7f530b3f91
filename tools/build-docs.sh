#!/usr/bin/env bash
# `make docs`: the collection's HTML documentation with antsibull-docs and Sphinx: the
# modules, the role entry points and the guides of docs/docsite/ (extra-docs.yml, links.yml).
#
#   tools/build-docs.sh        writes .cache/docs/html/index.html
#
# Uses .venv (tools/bootstrap.sh; antsibull-docs and Sphinx come from tools/requirements.txt)
# and the collection as .cache/collections/ansible_collections/terok/lifecycle (this tree).
# It builds offline: no intersphinx inventories are fetched, so the few references that the
# generated pages make into docs.ansible.com stay plain text (those warnings are expected);
# any other Sphinx warning fails the build.
set -euo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_venv
for tool in antsibull-docs sphinx-build; do
    [ -x "$VENV/bin/$tool" ] || die "$tool is missing from $VENV: run 'make bootstrap'"
done
[ -d "$COLLECTIONS_DIR/ansible_collections/terok/lifecycle/plugins" ] \
    || die "$COLLECTIONS_DIR/ansible_collections/terok/lifecycle is missing: run 'make bootstrap'"

DOCS_DIR="$CACHE_DIR/docs"
WORK="$DOCS_DIR/work"
SITE="$DOCS_DIR/html"
export PATH="$VENV/bin:$PATH"
# the collection of this tree, nothing from ~/.ansible or site-packages
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_DIR"
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false

# labels of docs.ansible.com that antsibull-docs' generated pages refer to
EXPECTED_WARNINGS="WARNING: undefined label: '(common_return_values|ansible_configuration_settings)'"

rm -rf "$WORK"
mkdir -p "$WORK"

log "antsibull-docs sphinx-init (Sphinx configuration in $WORK)"
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
    --project terok.lifecycle --copyright 'terok.lifecycle contributors' \
    --title terok.lifecycle --html-short-title terok.lifecycle \
    --dest-dir "$WORK" terok.lifecycle >/dev/null
# offline: no inventories to fetch
printf '\nintersphinx_mapping = {}\n' >>"$WORK/conf.py"

log "antsibull-docs collection (RST of the modules, roles and guides)"
mkdir -p "$WORK/rst"
chmod og-w "$WORK/rst"
antsibull-docs --config-file "$WORK/antsibull-docs.cfg" collection --use-current \
    --squash-hierarchy --fail-on-error --cleanup everything --dest-dir "$WORK/rst" terok.lifecycle

log "sphinx-build (HTML)"
sphinx-build -M html "$WORK/rst" "$WORK/build" -c "$WORK" -q -w "$WORK/warnings.log"
if grep -Ev "$EXPECTED_WARNINGS" "$WORK/warnings.log" | grep -q .; then
    grep -Ev "$EXPECTED_WARNINGS" "$WORK/warnings.log" >&2
    die "sphinx-build warned (see above)"
fi
expected="$(grep -cE "$EXPECTED_WARNINGS" "$WORK/warnings.log" || true)"
[ "$expected" = 0 ] || log "$expected warning(s) about docs.ansible.com labels: expected offline"

rm -rf "$SITE"
mv "$WORK/build/html" "$SITE"
log "documentation written to $SITE/index.html"
