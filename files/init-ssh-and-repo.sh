#!/usr/bin/env bash
# init-ssh-and-repo.sh - prepare a terok task workspace, then hand over.
#
# Runs first in a terok task container (the container's entry point). It makes
# sure git trusts the mounted workspace, fixes SSH key permissions, brings the
# git checkout in the workspace to the state the task protocol asks for, prints
# ">> init complete" as its last line and then exec()s the container command.
#
# Inputs (environment):
#   REPO_ROOT            the workspace (the bind-mounted task workspace);
#                        default /workspace. Created when missing.
#   CODE_REPO            the repository URL or path the task works on. It is
#                        the origin remote of the checkout.
#   GIT_BRANCH           branch to check out. Must pass
#                        `git check-ref-format --branch`. Empty: the remote's
#                        default branch (first clone) or the current branch.
#   GIT_RESET_MODE       none | hard | soft (default none). On a restart (no
#                        marker) with GIT_BRANCH set: `git reset --hard` or
#                        `git reset --soft` to origin/GIT_BRANCH after the fetch.
#   CLONE_FROM           seed source for the first clone (e.g. a local gate
#                        repository). After that clone, origin is repointed
#                        (fetch and push URL) to CODE_REPO and the branch is
#                        taken from the new origin when it can be fetched.
#   EXTERNAL_REMOTE_URL  becomes the remote "external" (replaced when present);
#                        when reachable, the script reports how many commits
#                        HEAD is behind external/<branch>.
#   SSH_KEY_NAME         key file name under ~/.ssh. With ~/.ssh/<name>,
#                        ~/.ssh/<name>.pub and ~/.ssh/config present, their
#                        permissions are fixed (dir 700, key 600, .pub and
#                        config 644). Anything missing: a warning, no SSH setup.
#                        Key contents are never printed.
#   TEROK_SECRET_ENV     space-separated variable names whose values podman
#                        mounted as files under $TEROK_SECRETS_DIR (default
#                        /run/secrets, one file per name). Each is exported to
#                        the container command (trailing newlines dropped) and
#                        never printed; TEROK_SECRET_ENV itself is unset for the
#                        command. Shells opened later in the container (podman
#                        exec ... bash, bash -l, bash -i, tmux) get them too: a
#                        hook, ~/.terok-secret-env.sh, that reads the same files
#                        when a shell starts, is sourced from ~/.bashrc,
#                        ~/.profile and (when there) ~/.bash_profile. No value
#                        is written anywhere: the hook holds only this logic.
#
# Protocol ($REPO_ROOT/.new-task-marker is written when the task is created):
#   marker, no .git      first start: the workspace must hold nothing but the
#                        marker (else error, listing what is there; nothing is
#                        deleted). Clone CODE_REPO (or CLONE_FROM) with
#                        submodules on GIT_BRANCH; when the remote has no such
#                        branch, clone the default branch (with a warning). Any
#                        other clone error aborts. The marker is removed after
#                        success.
#   marker and .git      stale workspace (an earlier start did not finish):
#                        fetch origin, check out GIT_BRANCH (or the current
#                        branch) reset to its remote branch, update submodules,
#                        `git clean -fd`; the marker is removed only when this
#                        succeeded, so a failure is retried on the next start.
#                        A branch missing on the remote is such a failure.
#   no marker            restart: fetch only (a failed fetch is a warning);
#                        local commits and changes are kept unless
#                        GIT_RESET_MODE asks for a reset.
#   origin               a file:// CODE_REPO is always made origin, also on
#                        restarts where origin pointed elsewhere; other URLs are
#                        only set on the first clone / stale reset (or when the
#                        checkout has no origin at all).
#   no CODE_REPO         with a marker and no .git (and no CLONE_FROM): there
#                        is nothing to clone. A warning is printed, nothing is
#                        removed and the marker is KEPT (so that a later start
#                        with CODE_REPO set still performs the first clone);
#                        the task goes on with an empty workspace. With
#                        CLONE_FROM but no CODE_REPO, the clone comes from
#                        CLONE_FROM and origin stays pointed at it.
#   no marker, no .git   nothing is cloned (a warning when CODE_REPO is set).
#   interrupted clone    the first clone goes to $REPO_ROOT/.terok-init-clone.*
#                        and is moved into place; such a leftover directory of
#                        an interrupted start is removed on the next first start.
#
# Git never prompts for credentials here (GIT_TERMINAL_PROMPT=0 on each git
# call; the variable is not exported to the command handed over to).
#
# Output: progress lines start with ">> ", warnings with ">> warning: "
# (stderr), errors with ">> error: " (stderr). The last line printed is exactly
# ">> init complete"; then the script exec()s its arguments, or /bin/bash when
# there are none. The current directory is not changed.
#
# Exit codes (before the hand-over; afterwards the command's own code applies,
# 126/127 when it cannot be run):
#   1  unexpected failure
#   2  invalid input (GIT_BRANCH, GIT_RESET_MODE)
#   3  workspace unusable: not a directory, or not empty before the first clone
#   4  first clone failed (unreachable source, ...); the marker is kept
#   5  stale workspace could not be reset (fetch, checkout or clean failed);
#      the marker is kept so the next start retries
#
# Network use is limited to the URLs given in CODE_REPO, CLONE_FROM and
# EXTERNAL_REMOTE_URL (and the submodule URLs of the repository).

set -Eeuo pipefail

readonly MARKER_NAME=".new-task-marker"
readonly CLONE_TMP_PREFIX=".terok-init-clone."

REPO_ROOT="${REPO_ROOT:-/workspace}"
CODE_REPO="${CODE_REPO:-}"
GIT_BRANCH="${GIT_BRANCH:-}"
GIT_RESET_MODE="${GIT_RESET_MODE:-none}"
CLONE_FROM="${CLONE_FROM:-}"
EXTERNAL_REMOTE_URL="${EXTERNAL_REMOTE_URL:-}"
SSH_KEY_NAME="${SSH_KEY_NAME:-}"

clone_tmp=""

say() { printf '>> %s\n' "$*"; }
warn() { printf '>> warning: %s\n' "$*" >&2; }
err() { printf '>> error: %s\n' "$*" >&2; }
die() {
    local code="$1"
    shift
    err "$*"
    exit "$code"
}

on_error() {
    local rc=$? line="$1"
    err "unexpected failure (exit ${rc}) at line ${line} of $(basename -- "$0")"
}
trap 'on_error "$LINENO"' ERR

cleanup() {
    if [[ -n "$clone_tmp" && -d "$clone_tmp" ]]; then
        rm -rf -- "$clone_tmp"
    fi
}
trap cleanup EXIT

# Show a URL without a password in its user-info part.
redact() {
    local url="$1"
    if [[ "$url" =~ ^([A-Za-z][A-Za-z0-9+.-]*://)([^/@:]*):[^/@]*@(.*)$ ]]; then
        printf '%s%s:***@%s' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
    else
        printf '%s' "$url"
    fi
}

# git in the workspace. Network commands never prompt for credentials.
g() { GIT_TERMINAL_PROMPT=0 git -C "$REPO_ROOT" "$@"; }

current_branch() { g symbolic-ref --quiet --short HEAD 2>/dev/null || true; }

# the branch to work on: GIT_BRANCH, else the one checked out (empty when HEAD is detached)
wanted_branch() { if [[ -n "$GIT_BRANCH" ]]; then printf '%s\n' "$GIT_BRANCH"; else current_branch; fi; }

has_ref() { g rev-parse --quiet --verify "$1^{commit}" >/dev/null 2>&1; }

has_remote() { g config --get "remote.$1.url" >/dev/null 2>&1; }

# Point remote $1 at URL $2 for fetch and push (adding it when missing).
set_remote() {
    local name="$1" url="$2"
    if has_remote "$name"; then
        g remote set-url -- "$name" "$url"
        if g config --get-all "remote.$name.pushurl" >/dev/null 2>&1; then
            g config --unset-all "remote.$name.pushurl"
        fi
    else
        g remote add -- "$name" "$url"
    fi
}

# Does the repository at URL $1 have branch $2?  0 yes, 1 no, 2 unreachable.
remote_has_branch() {
    local url="$1" branch="$2" listing sha ref
    # git clone takes a local path starting with "-" (after --), but the
    # transport of ls-remote refuses it as a "strange pathname"; such a string
    # can only be a relative local path, so spell it as one.
    [[ "$url" != -* ]] || url="./$url"
    if ! listing="$(GIT_TERMINAL_PROMPT=0 git ls-remote --heads -- "$url")"; then
        return 2
    fi
    while IFS=$'\t' read -r sha ref; do
        [[ -n "$sha" && "$ref" == "refs/heads/$branch" ]] && return 0
    done <<<"$listing"
    return 1
}

update_submodules() {
    [[ -f "$REPO_ROOT/.gitmodules" ]] || return 0
    if ! g submodule --quiet update --init --recursive; then
        warn "could not update submodules"
    fi
}

# --------------------------------------------------------------------------
# input checks

validate_inputs() {
    case "$GIT_RESET_MODE" in
        none | hard | soft) ;;
        *) die 2 "GIT_RESET_MODE must be none, hard or soft, not '${GIT_RESET_MODE}'" ;;
    esac
    if [[ -n "$GIT_BRANCH" ]]; then
        local checked
        if ! checked="$(git check-ref-format --branch "$GIT_BRANCH" 2>/dev/null)" ||
            [[ "$checked" != "$GIT_BRANCH" ]]; then
            die 2 "GIT_BRANCH '${GIT_BRANCH}' is not a valid branch name (git check-ref-format --branch)"
        fi
    fi
    if [[ -e "$REPO_ROOT" && ! -d "$REPO_ROOT" ]]; then
        die 3 "REPO_ROOT ${REPO_ROOT} is not a directory"
    fi
    if [[ ! -d "$REPO_ROOT" ]] && ! mkdir -p -- "$REPO_ROOT"; then
        die 3 "cannot create REPO_ROOT ${REPO_ROOT}"
    fi
    if [[ "$REPO_ROOT" != /* ]]; then
        REPO_ROOT="$(cd -- "$REPO_ROOT" && pwd)"
    fi
}

# --------------------------------------------------------------------------
# git safe.directory

add_safe_directory() {
    local dir="$1"
    if git config --global --get-all --fixed-value safe.directory "$dir" >/dev/null 2>&1; then
        return 0
    fi
    if git config --global --add safe.directory "$dir"; then
        say "git: marked ${dir} as a safe directory"
    else
        warn "could not add ${dir} to git's safe.directory"
    fi
}

setup_safe_directory() {
    add_safe_directory "$REPO_ROOT"
    local physical
    physical="$(cd -- "$REPO_ROOT" && pwd -P)"
    if [[ "$physical" != "$REPO_ROOT" ]]; then
        add_safe_directory "$physical"
    fi
}

# --------------------------------------------------------------------------
# SSH

setup_ssh() {
    [[ -n "$SSH_KEY_NAME" ]] || return 0
    if [[ "$SSH_KEY_NAME" == */* || "$SSH_KEY_NAME" == . || "$SSH_KEY_NAME" == .. ]]; then
        warn "SSH_KEY_NAME '${SSH_KEY_NAME}' must be a plain file name; going on without SSH setup"
        return 0
    fi
    if [[ -z "${HOME:-}" ]]; then
        warn "HOME is not set; going on without SSH setup"
        return 0
    fi
    local dir="$HOME/.ssh"
    local key="$dir/$SSH_KEY_NAME"
    local missing=() path
    for path in "$key" "$key.pub" "$dir/config"; do
        [[ -f "$path" ]] || missing+=("$path")
    done
    if ((${#missing[@]})); then
        warn "SSH key setup skipped, missing: ${missing[*]}; going on without SSH"
        return 0
    fi
    if chmod 700 -- "$dir" && chmod 600 -- "$key" &&
        chmod 644 -- "$key.pub" "$dir/config"; then
        say "ssh: permissions fixed for ~/.ssh, key '${SSH_KEY_NAME}' and config"
    else
        warn "could not fix permissions in ${dir}; SSH may refuse the key"
    fi
}

# --------------------------------------------------------------------------
# first start: marker, no .git

# Print the workspace entries other than the marker and our own leftovers,
# one per line (NUL-safe enough for display; names are not parsed further).
workspace_entries() {
    local entry name
    local -a entries
    shopt -s nullglob dotglob
    entries=("$REPO_ROOT"/*)
    shopt -u nullglob dotglob
    for entry in "${entries[@]}"; do
        name="${entry##*/}"
        [[ "$name" == "$MARKER_NAME" ]] && continue
        [[ "$name" == "$CLONE_TMP_PREFIX"* ]] && continue
        printf '%s\n' "$name"
    done
}

remove_stale_clone_dirs() {
    local entry
    local -a entries
    shopt -s nullglob dotglob
    entries=("$REPO_ROOT/$CLONE_TMP_PREFIX"*)
    shopt -u nullglob dotglob
    for entry in "${entries[@]}"; do
        [[ -d "$entry" && ! -L "$entry" ]] || continue
        say "removing leftover clone directory ${entry##*/} of an interrupted start"
        rm -rf -- "$entry"
    done
}

first_clone() {
    local source="$CODE_REPO" source_name="CODE_REPO"
    if [[ -n "$CLONE_FROM" ]]; then
        source="$CLONE_FROM"
        source_name="CLONE_FROM"
    fi

    local listing
    listing="$(workspace_entries)"
    if [[ -n "$listing" ]]; then
        err "workspace ${REPO_ROOT} is not empty before the first clone; nothing was changed. It holds:"
        local line
        while IFS= read -r line; do
            printf '>>   %s\n' "$line" >&2
        done <<<"$listing"
        exit 3
    fi
    remove_stale_clone_dirs

    local -a branch_args=()
    if [[ -n "$GIT_BRANCH" ]]; then
        local rc=0
        remote_has_branch "$source" "$GIT_BRANCH" || rc=$?
        case "$rc" in
            0) branch_args=(--branch "$GIT_BRANCH") ;;
            1) warn "branch '${GIT_BRANCH}' does not exist in ${source_name} $(redact "$source"); cloning its default branch" ;;
            *) die 4 "cannot read ${source_name} $(redact "$source"); clone failed" ;;
        esac
    fi

    say "cloning $(redact "$source")${GIT_BRANCH:+ (branch ${GIT_BRANCH})} into ${REPO_ROOT}"
    clone_tmp="$(mktemp -d "$REPO_ROOT/${CLONE_TMP_PREFIX}XXXXXX")"
    if ! GIT_TERMINAL_PROMPT=0 git clone --quiet --recurse-submodules "${branch_args[@]}" \
        -- "$source" "$clone_tmp"; then
        die 4 "git clone of ${source_name} $(redact "$source") failed"
    fi

    # Move the checkout (including .git and dot files) into the workspace.
    local entry
    local -a entries
    shopt -s nullglob dotglob
    entries=("$clone_tmp"/*)
    shopt -u nullglob dotglob
    for entry in "${entries[@]}"; do
        mv -- "$entry" "$REPO_ROOT/"
    done
    rmdir -- "$clone_tmp"
    clone_tmp=""

    if [[ -n "$CLONE_FROM" && -n "$CODE_REPO" ]]; then
        repoint_after_seed
    fi
    local branch
    branch="$(current_branch)"
    say "checked out ${branch:-a detached HEAD} at $(g rev-parse --short HEAD 2>/dev/null || echo 'no commits')"
}

# After a clone from CLONE_FROM: origin becomes CODE_REPO and the branch is
# taken from it. Failures here leave the gate's state and are warnings.
repoint_after_seed() {
    say "repointing origin to $(redact "$CODE_REPO")"
    set_remote origin "$CODE_REPO"
    if ! g fetch --quiet origin; then
        warn "could not fetch from CODE_REPO $(redact "$CODE_REPO"); keeping the state cloned from CLONE_FROM"
        return 0
    fi
    local branch
    branch="$(wanted_branch)"
    if [[ -z "$branch" ]]; then
        warn "no branch checked out; nothing to take from the new origin"
        return 0
    fi
    if ! has_ref "refs/remotes/origin/$branch"; then
        warn "branch '${branch}' does not exist in CODE_REPO; staying on $(current_branch)"
        return 0
    fi
    if g checkout --quiet -B "$branch" "refs/remotes/origin/$branch" --; then
        g branch --quiet --set-upstream-to="origin/$branch" "$branch" || true
        update_submodules
    else
        warn "could not check out '${branch}' from CODE_REPO; keeping the state cloned from CLONE_FROM"
    fi
}

# --------------------------------------------------------------------------
# origin handling for an existing checkout

# $1: "stale" (re-apply the first-start protocol) or "restart".
ensure_origin() {
    local why="$1" current=""
    if has_remote origin; then
        current="$(g remote get-url origin)"
    fi
    if [[ -z "$CODE_REPO" ]]; then
        if [[ -z "$current" && -n "$CLONE_FROM" ]]; then
            set_remote origin "$CLONE_FROM"
        fi
        return 0
    fi
    [[ "$current" == "$CODE_REPO" ]] && return 0
    if [[ -z "$current" || "$why" == stale || "$CODE_REPO" == file://* ]]; then
        say "setting origin to $(redact "$CODE_REPO")${current:+ (was $(redact "$current"))}"
        set_remote origin "$CODE_REPO"
    else
        say "origin is $(redact "$current"), not CODE_REPO $(redact "$CODE_REPO"); leaving it"
    fi
}

# --------------------------------------------------------------------------
# stale workspace: marker and .git

reset_stale() {
    say "workspace has a marker and a .git: resetting it to the remote"
    ensure_origin stale
    if ! has_remote origin; then
        die 5 "the workspace has no origin remote and CODE_REPO is not set; cannot reset (marker kept)"
    fi
    if ! g fetch --quiet origin; then
        local fallback_ok=false
        if [[ -n "$CLONE_FROM" && "$CLONE_FROM" != "$(g remote get-url origin)" ]]; then
            warn "could not fetch origin; fetching from CLONE_FROM $(redact "$CLONE_FROM") instead"
            if g fetch --quiet -- "$CLONE_FROM" "+refs/heads/*:refs/remotes/origin/*"; then
                fallback_ok=true
            fi
        fi
        $fallback_ok || die 5 "fetch failed; workspace not reset (marker kept, the next start retries)"
    fi

    local branch
    branch="$(wanted_branch)"
    if [[ -z "$branch" ]]; then
        local head_ref
        head_ref="$(g symbolic-ref --quiet --short refs/remotes/origin/HEAD 2>/dev/null || true)"
        branch="${head_ref#origin/}"
    fi
    if [[ -z "$branch" ]]; then
        die 5 "no GIT_BRANCH, no current branch and no origin/HEAD; cannot reset (marker kept)"
    fi
    if ! has_ref "refs/remotes/origin/$branch"; then
        die 5 "branch '${branch}' does not exist on origin; checkout failed (marker kept, the next start retries)"
    fi
    if ! g checkout --quiet --force -B "$branch" "refs/remotes/origin/$branch" --; then
        die 5 "checkout of '${branch}' failed (marker kept, the next start retries)"
    fi
    g branch --quiet --set-upstream-to="origin/$branch" "$branch" || true
    update_submodules
    if ! g clean --quiet -f -d -e "/$MARKER_NAME"; then
        die 5 "git clean failed (marker kept, the next start retries)"
    fi
    say "reset ${branch} to origin/${branch} at $(g rev-parse --short HEAD)"
}

# --------------------------------------------------------------------------
# restart: no marker

refresh_restart() {
    ensure_origin restart
    if ! has_remote origin; then
        warn "no origin remote; nothing to fetch"
        return 0
    fi
    say "fetching origin (local work is kept)"
    if ! g fetch --quiet origin; then
        warn "fetch from origin failed; going on with the local state"
        if [[ "$GIT_RESET_MODE" != none ]]; then
            warn "GIT_RESET_MODE=${GIT_RESET_MODE} skipped because the fetch failed"
        fi
        return 0
    fi
    [[ "$GIT_RESET_MODE" != none ]] || return 0
    if [[ -z "$GIT_BRANCH" ]]; then
        warn "GIT_RESET_MODE=${GIT_RESET_MODE} needs GIT_BRANCH; no reset"
        return 0
    fi
    local target="refs/remotes/origin/$GIT_BRANCH"
    if ! has_ref "$target"; then
        warn "origin/${GIT_BRANCH} does not exist; no reset"
        return 0
    fi
    local branch
    branch="$(current_branch)"
    if [[ "$branch" != "$GIT_BRANCH" ]]; then
        if [[ "$GIT_RESET_MODE" == soft ]]; then
            warn "on '${branch:-detached HEAD}', not '${GIT_BRANCH}'; soft reset skipped"
            return 0
        fi
        say "switching to ${GIT_BRANCH}"
        if ! g checkout --quiet --force -B "$GIT_BRANCH" "$target" --; then
            warn "could not switch to '${GIT_BRANCH}'; no reset"
            return 0
        fi
    fi
    say "git reset --${GIT_RESET_MODE} origin/${GIT_BRANCH}"
    if ! g reset --quiet "--${GIT_RESET_MODE}" "$target" --; then
        warn "git reset --${GIT_RESET_MODE} origin/${GIT_BRANCH} failed; going on"
        return 0
    fi
    if [[ "$GIT_RESET_MODE" == hard ]]; then
        update_submodules
    fi
}

# --------------------------------------------------------------------------
# external remote

setup_external() {
    [[ -n "$EXTERNAL_REMOTE_URL" ]] || return 0
    set_remote external "$EXTERNAL_REMOTE_URL"
    say "remote external is $(redact "$EXTERNAL_REMOTE_URL")"
    if ! g fetch --quiet external; then
        warn "external remote $(redact "$EXTERNAL_REMOTE_URL") is not reachable; going on"
        return 0
    fi
    local branch
    branch="$(wanted_branch)"
    if [[ -z "$branch" ]]; then
        say "no branch checked out; cannot compare with external"
        return 0
    fi
    if ! has_ref "refs/remotes/external/$branch"; then
        say "external has no branch '${branch}'"
        return 0
    fi
    if ! has_ref HEAD; then
        say "no local commits to compare with external/${branch}"
        return 0
    fi
    local behind
    behind="$(g rev-list --count "HEAD..refs/remotes/external/$branch" --)"
    say "HEAD is ${behind} commit(s) behind external/${branch}"
}

# Secrets come as files (podman secrets, type=mount), so that their values are
# in no container config that podman inspect shows; the command gets them as env.
export_secrets() {
    local name dir="${TEROK_SECRETS_DIR:-/run/secrets}" value
    [[ -n "${TEROK_SECRET_ENV:-}" ]] || return 0
    for name in $TEROK_SECRET_ENV; do
        if [[ ! "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
            warn "TEROK_SECRET_ENV names '${name}', which is not a variable name; skipped"
        elif [[ -r "$dir/$name" ]]; then
            value="$(cat -- "$dir/$name")"
            export "$name=$value"
        else
            warn "secret ${name} is not readable at ${dir}/${name}; the command runs without it"
        fi
    done
    unset TEROK_SECRET_ENV
}

# The hook that gives every later shell of the container (podman exec, tmux,
# terok login) the secrets: it reads the mounted files each time a shell
# starts, as export_secrets does, so no value is ever written to a file.
SECRETS_HOOK_NAME=".terok-secret-env.sh"
# shellcheck disable=SC2016  # $HOME is expanded by the shell that reads the line, not here
SECRETS_HOOK_LINE='[ -r "$HOME/.terok-secret-env.sh" ] && . "$HOME/.terok-secret-env.sh"  # terok.lifecycle: secret_env'

secrets_hook_text() {
    cat <<'HOOK'
# terok.lifecycle: secret_env for every shell of this task (written by the
# init script; it holds no value: each is read from podman's secret mount).
if [ -n "${TEROK_SECRET_ENV:-}" ]; then
    for __terok_name in $TEROK_SECRET_ENV; do
        case $__terok_name in
            '' | [0-9]* | *[!A-Za-z0-9_]*) continue ;;
        esac
        if [ -r "${TEROK_SECRETS_DIR:-/run/secrets}/$__terok_name" ]; then
            export "$__terok_name=$(cat -- "${TEROK_SECRETS_DIR:-/run/secrets}/$__terok_name")"
        fi
    done
    unset __terok_name
fi
HOOK
}

install_secrets_hook() {
    local home="${HOME:-}" rc
    [[ -n "${TEROK_SECRET_ENV:-}" ]] || return 0
    if [[ -z "$home" || ! -d "$home" || ! -w "$home" ]]; then
        warn "HOME (${home:-unset}) is not a writable directory: shells opened later get no secret_env"
        return 0
    fi
    if ! secrets_hook_text > "$home/$SECRETS_HOOK_NAME"; then
        warn "could not write ${home}/${SECRETS_HOOK_NAME}: shells opened later get no secret_env"
        return 0
    fi
    for rc in .bashrc .profile .bash_profile; do
        [[ "$rc" != .bash_profile || -e "$home/$rc" ]] || continue
        if [[ -L "$home/$rc" ]]; then
            warn "${home}/${rc} is a symbolic link: left alone"
        elif ! grep -qsF "$SECRETS_HOOK_LINE" -- "$home/$rc"; then
            # first in the file: Debian's ~/.bashrc returns early for shells that are not interactive
            if { printf '%s\n' "$SECRETS_HOOK_LINE"; cat -- "$home/$rc" 2>/dev/null || true; } > "$home/$rc.terok-new" \
                && { [[ ! -e "$home/$rc" ]] || chmod --reference="$home/$rc" -- "$home/$rc.terok-new"; } \
                && mv -f -- "$home/$rc.terok-new" "$home/$rc"; then
                :
            else
                rm -f -- "$home/$rc.terok-new"
                warn "could not add the secret_env hook to ${home}/${rc}"
            fi
        fi
    done
}

# --------------------------------------------------------------------------

main() {
    validate_inputs
    setup_safe_directory
    setup_ssh

    local marker="$REPO_ROOT/$MARKER_NAME"
    if [[ -e "$marker" ]]; then
        if [[ -e "$REPO_ROOT/.git" ]]; then
            reset_stale
            rm -f -- "$marker"
        elif [[ -z "$CODE_REPO" && -z "$CLONE_FROM" ]]; then
            warn "CODE_REPO is not set: no repository to clone; the workspace stays empty and the marker is kept"
        else
            first_clone
            rm -f -- "$marker"
        fi
    elif [[ -e "$REPO_ROOT/.git" ]]; then
        refresh_restart
    elif [[ -n "$CODE_REPO" ]]; then
        warn "no git checkout in ${REPO_ROOT} and no new-task marker; not cloning"
    fi

    if [[ -e "$REPO_ROOT/.git" ]]; then
        setup_external
    elif [[ -n "$EXTERNAL_REMOTE_URL" ]]; then
        warn "no git checkout; EXTERNAL_REMOTE_URL ignored"
    fi

    install_secrets_hook
    export_secrets
    say "init complete"
    trap - EXIT ERR
    if (($#)); then
        exec "$@"
    fi
    exec /bin/bash
}

main "$@"
