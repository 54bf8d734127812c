# DevTrace: record every command of this interactive bash (eval "$(devtrace hook bash)" in ~/.bashrc).
# On the prompt's path only builtins run: PS0 keeps the start time, the prompt command starts
# one detached writer that reads the command line from bash's history on its stdin. With
# bash-preexec loaded (before or after this script), it also joins its hooks.
if [[ $- == *i* && -z ${__devtrace_loaded-} && -z @AGENT_VARIABLES@ ]] \
    && ((BASH_VERSINFO[0] >= 5)); then
    __devtrace_loaded=1
    # Not exported: a nested shell makes its own session.
    __devtrace_session=$$.${EPOCHREALTIME//[!0-9]/}.$RANDOM
    __devtrace_ran= __devtrace_start= __devtrace_seen= __devtrace_hist=$HISTCMD __devtrace_last= __devtrace_prev=
    __devtrace_via=
    __devtrace_none=()

    __devtrace_precmd() {
        local end=${EPOCHREALTIME//[!0-9]/}
        if [[ -n $__devtrace_ran ]]; then
            __devtrace_ran=
            # Bash saved the line (its history number moved on), or it is a repeat that
            # ignoredups did not save (same last argument as the previous command). A line
            # bash kept out of its history (ignorespace, HISTIGNORE) is not recorded.
            if ((__devtrace_seen > __devtrace_hist)) \
                || [[ -o history && $__devtrace_last == "$__devtrace_prev" ]]; then
                # In a subshell, so that $! stays the user's last background job.
                (__devtrace_write "$__devtrace_status" "$__devtrace_start" $((end - __devtrace_start)) &)
            fi
        fi
        __devtrace_hist=$HISTCMD
        __devtrace_prev=$__devtrace_last
        # bash-preexec loaded after this script: join its hooks from now on.
        [[ -n $__devtrace_via || -z ${bash_preexec_imported-}${__bp_imported-} ]] || __devtrace_join
        return "$__devtrace_status"
    }

    __devtrace_write() {
        { printf '%s %s %s %s\n' "$1" "$2" "$3" "$__devtrace_session"; HISTTIMEFORMAT= builtin history 1; } 2>/dev/null \
            | @WRITER@ >/dev/null 2>&1
    }

    # bash-preexec runs its precmd functions before the rest of PROMPT_COMMAND, ours included:
    # DevTrace's is put first among them, so that the others' time is not counted in the
    # command's. Whichever of the two runs first records; the other finds nothing to record.
    __devtrace_bp_precmd() {
        __devtrace_status=$? __devtrace_last=$_
        __devtrace_precmd
    }

    __devtrace_join() {
        precmd_functions=(__devtrace_bp_precmd "${precmd_functions[@]}")
        __devtrace_via=bash-preexec
    }

    PS0=${PS0-}'${__devtrace_none[(__devtrace_start=${EPOCHREALTIME//[!0-9]/})+(__devtrace_seen=HISTCMD)+(__devtrace_ran=1)]-}'
    __devtrace_hook='__devtrace_status=$? __devtrace_last=$_; __devtrace_precmd'
    if [[ ${PROMPT_COMMAND@a} == *a* ]]; then
        PROMPT_COMMAND=("$__devtrace_hook" "${PROMPT_COMMAND[@]}")
    else
        PROMPT_COMMAND=$__devtrace_hook$'\n'${PROMPT_COMMAND-}
    fi
    unset __devtrace_hook
    [[ -z ${bash_preexec_imported-}${__bp_imported-} ]] || __devtrace_join
fi
