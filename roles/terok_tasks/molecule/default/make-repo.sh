#!/usr/bin/env bash
# make-repo.sh DIR: a bare git repository DIR with one commit on branch main.
set -euo pipefail
dir=$1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git init -q -b main "$work"
printf 'terok_tasks molecule scenario\n' >"$work/README.md"
git -C "$work" add README.md
git -C "$work" -c user.name=molecule -c user.email=molecule@example.invalid commit -q -m 'First commit'
git clone -q --bare "$work" "$dir"
