# DevTrace: record every command of this interactive bash (eval "$(devtrace hook bash)" in ~/.bashrc).
# On the prompt's path only builtins run: PS0 keeps the start time, the prompt command starts
# one detached writer that reads the command line from bash's history on its stdin. With
# bash-preexec or ble.sh loaded (before or after this script), it also joins their hooks.
if [[ $- == *i* && -z ${__devtrace_loaded-} && -z @AGENT_VARIABLES@ ]] \
    && ((BASH_VERSINFO[0] >= 5)); then
    __devtrace_loaded=1
    # Not exported: a nested shell makes its own session.
    __devtrace_session=$$.${EPOCHREALTIME//[!0-9]/}.$RANDOM
    __devtrace_ran= __devtrace_start= __devtrace_seen= __devtrace_hist=$HISTCMD __devtrace_last= __devtrace_prev=
    __devtrace_via= __devtrace_line= __devtrace_ble_start= __devtrace_armed=1
    __devtrace_none=()

    __devtrace_precmd() {
        local end=${EPOCHREALTIME//[!0-9]/}
        # Once per prompt (PS0 re-arms it): bash-preexec runs this twice, and the second run,
        # with its `$_`, would overwrite what the next prompt compares with.
        ((__devtrace_armed)) || return "$__devtrace_status"
        __devtrace_armed=0
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
        # bash-preexec or ble.sh loaded after this script: join their hooks from now on.
        [[ -n $__devtrace_via || -z ${bash_preexec_imported-}${__bp_imported-}${BLE_VERSION-} ]] || __devtrace_join
        return "$__devtrace_status"
    }

    __devtrace_write() {
        { printf '%s %s %s %s\n' "$1" "$2" "$3" "$__devtrace_session"; HISTTIMEFORMAT= builtin history 1; } 2>/dev/null \
            | @WRITER@ >/dev/null 2>&1
    }

    # bash-preexec runs its precmd functions before the rest of PROMPT_COMMAND, ours included:
    # DevTrace's is put first among them, so that the others' time is not counted in the
    # command's. Whichever of the two runs first records; the other returns at once.
    __devtrace_bp_precmd() {
        __devtrace_status=$? __devtrace_last=$_
        __devtrace_precmd
    }

    # ble.sh reads the line itself and runs PS0 and the prompt command tens of ms away from the
    # command, with HISTCMD a plain variable and bash's history out of step: its PREEXEC hook
    # gives the line and the start, POSTEXEC the status and the end.
    __devtrace_ble_preexec() {
        __devtrace_line=$1 __devtrace_ble_start=${EPOCHREALTIME//[!0-9]/}
    }

    __devtrace_ble_postexec() {
        local status=$? end=${EPOCHREALTIME//[!0-9]/} start=$__devtrace_ble_start
        __devtrace_ran=  # PS0 as ble.sh drew it: the prompt command has nothing left to record
        if [[ -n $start ]]; then
            __devtrace_ble_start=
            # ble.sh's own timing of the command alone (what its elapsed mark and its contrib
            # histdb show), in microseconds, when it is this command's.
            if [[ -n ${_ble_exec_time_beg-} && -n ${_ble_exec_time_ata-} \
                && $_ble_exec_time_beg$_ble_exec_time_ata != *[!0-9]* ]] && ((_ble_exec_time_beg >= start)); then
                start=$_ble_exec_time_beg end=$((_ble_exec_time_beg + _ble_exec_time_ata))
            fi
            (__devtrace_write_line "$status" "$start" $((end - start)) &)
        fi
        return "$status"
    }

    __devtrace_write_line() {
        printf '%s %s %s %s line\n%s' "$1" "$2" "$3" "$__devtrace_session" "$__devtrace_line" 2>/dev/null \
            | @WRITER@ >/dev/null 2>&1
    }

    __devtrace_join() {
        if [[ -n ${BLE_VERSION-} ]] && ((${BLE_VERSINFO[0]-0} * 100 + ${BLE_VERSINFO[1]-0} >= 4)) \
            && declare -F blehook >/dev/null; then
            blehook PREEXEC+=__devtrace_ble_preexec POSTEXEC+=__devtrace_ble_postexec
            __devtrace_via=ble.sh
        elif [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
            precmd_functions=(__devtrace_bp_precmd "${precmd_functions[@]}")
            __devtrace_via=bash-preexec
        else
            __devtrace_via=-  # a ble.sh before 0.4 (no PREEXEC/POSTEXEC hooks): PS0 and the prompt command only
        fi
    }

    PS0=${PS0-}'${__devtrace_none[(__devtrace_start=${EPOCHREALTIME//[!0-9]/})+(__devtrace_seen=HISTCMD)+(__devtrace_ran=1)+(__devtrace_armed=1)]-}'
    __devtrace_hook='__devtrace_status=$? __devtrace_last=$_; __devtrace_precmd'
    if [[ ${PROMPT_COMMAND@a} == *a* ]]; then
        PROMPT_COMMAND=("$__devtrace_hook" "${PROMPT_COMMAND[@]}")
    else
        PROMPT_COMMAND=$__devtrace_hook$'\n'${PROMPT_COMMAND-}
    fi
    unset __devtrace_hook
    [[ -z ${bash_preexec_imported-}${__bp_imported-}${BLE_VERSION-} ]] || __devtrace_join
fi
