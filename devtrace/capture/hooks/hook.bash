# DevTrace: record every command of this interactive bash (eval "$(devtrace hook bash)" in ~/.bashrc).
# On the prompt's path only builtins run: PS0 keeps each command's start, the prompt command
# appends one record per command (from bash's history) to the store's spool, and starts the store's drainer
# only when none is alive. With bash-preexec or ble.sh loaded (before or after this script), it
# also joins their hooks. Nothing here may fail, trace or trip the user's settings: no function
# on the prompt's path (a RETURN trap under extdebug), every failure in a condition (set -e,
# ERR traps), every variable with a default (set -u), stderr and xtrace to /dev/null.
if [[ $- == *i* && -z ${__devtrace_loaded-} && -z @AGENT_VARIABLES@ ]] \
    && ((BASH_VERSINFO[0] >= 5)); then
    __devtrace_loaded=1
    # Not exported: a nested shell makes its own session.
    __devtrace_session=$$.${EPOCHREALTIME/[.,]}.$RANDOM
    __devtrace_store=@STORE@
    __devtrace_drainer=(@DRAINER@)
    __devtrace_ran= __devtrace_n=0 __devtrace_sts=() __devtrace_starts=() __devtrace_seen= __devtrace_hist=${HISTCMD-0}
    __devtrace_via= __devtrace_line= __devtrace_ble_start= __devtrace_armed=1 __devtrace_seq=0 __devtrace_done=
    __devtrace_hc_user=${HISTCONTROL-} __devtrace_hc_set= __devtrace_dups= __devtrace_said= __devtrace_spawned=0
    __devtrace_none=() __devtrace_jobs='\j' __devtrace_um0=$(builtin umask) __devtrace_pid= __devtrace_hc_seen=

    # The spool record: `shell bash FORM STATUS START_US DURATION_US SESSION PID`, then the
    # folder, a NUL, the command (see devtrace.capture.spool). Written under umask 077 (the
    # user's umask, read from /proc, is put back), the spool folder made again if it is gone.
    __devtrace_write='
        __devtrace_seq=$((__devtrace_seq + 1)) __devtrace_um=
        { IFS=$'"' \t'"' read -r __devtrace_um && IFS=$'"' \t'"' read -r __devtrace_um __devtrace_um; } </proc/$$/status || :
        builtin umask 077
        for __devtrace_try in 1 2 3; do
            if [[ $__devtrace_try == 3 ]]; then
                # Not even the spool can be written (a read-only mount, a full disk): said once.
                [[ -n $__devtrace_said ]] || printf "devtrace: commands are not recorded: cannot write to %s\n" "$__devtrace_store/spool"
                __devtrace_said=1
                break
            fi
            if { printf "DTSPOOL 1 shell bash %s %s %s %s %s %s\n%s\0" "$__devtrace_form" "$__devtrace_wstatus" \
                    "$__devtrace_wstart" "$__devtrace_wtook" "$__devtrace_session" "$$" "$PWD"
                 if [[ $__devtrace_form == line ]]; then printf %s "$__devtrace_line"; else builtin fc -ln "$__devtrace_fc" "$__devtrace_fc"; fi
                 printf "\036\n"; } >"$__devtrace_store/spool/$__devtrace_session.$__devtrace_seq.rec"; then
                break
            fi
            [[ $__devtrace_try == 2 ]] || command mkdir -p -m 700 "$__devtrace_store/spool" || :
        done
        [[ -z $__devtrace_um ]] || builtin umask "$__devtrace_um"
        # The drainer this shell last saw alive is looked at first (one read, not two).
        __devtrace_comm=
        { [[ -n $__devtrace_pid ]] && read -r __devtrace_comm <"/proc/$__devtrace_pid/comm"; } || :
        if [[ $__devtrace_comm != devtrace-drain ]]; then
            __devtrace_pid=
            { read -r __devtrace_pid <"$__devtrace_store/drainer.pid" && read -r __devtrace_comm <"/proc/$__devtrace_pid/comm"; } || :
        fi
        # The drainer, started in a subshell so that $! stays the user'"'"'s last background job.
        if [[ $__devtrace_comm != devtrace-drain ]]; then
            # None alive, and none started by this shell in the last 2 s (a drainer starting up
            # has not written its pid yet: a burst of commands must not start one each).
            if [[ $((EPOCHSECONDS - __devtrace_spawned)) -ge 2 ]]; then
                __devtrace_spawned=$EPOCHSECONDS
                ("${__devtrace_drainer[@]}" </dev/null >/dev/null 2>&1 &)
            fi
            # A store the drainer found damaged is not written to: said once per shell.
            if [[ -z $__devtrace_said ]] && read -r __devtrace_x __devtrace_y <"$__devtrace_store/health" \
                && [[ -n $__devtrace_y && $__devtrace_y != ok ]]; then
                printf "devtrace: commands are not recorded: the store at %s is damaged (%s); see devtrace doctor\n" \
                    "$__devtrace_store" "$__devtrace_y"
                __devtrace_said=1
            fi
        fi
    '

    # The prompt command, first of PROMPT_COMMAND (the command's end before any other prompt
    # work). It records once per prompt (PS0 arms it): bash-preexec runs it twice.
    __devtrace_precmd='
        __devtrace_done=1
        if [[ -n $__devtrace_armed ]]; then
            __devtrace_armed=
            # Bash saved the line: its history number moved on. DevTrace keeps ignoredups and
            # erasedups out of HISTCONTROL while bash reads a line, so that a repeat is saved
            # (and recorded) too, then applies them itself (below). A line bash kept out of its
            # history (ignorespace, HISTIGNORE) is not recorded. A job stopped by Ctrl-Z
            # (status 128 + STOP, TSTP, TTIN or TTOU, a job left) has not ended: the `fg` that
            # resumes it ends with its real status and is recorded.
            if [[ -n $__devtrace_ran && $__devtrace_seen -gt $__devtrace_hist ]] \
                && { ! [[ $__devtrace_status == 14[789] || $__devtrace_status == 150 ]] || [[ ${__devtrace_jobs@P} == 0 ]]; }; then
                # PS0 ran before each command of the line (several for a paste), keeping the
                # status of the one before and its own start: one record per command, read
                # from its history entry. If some were not saved, the saved ones cannot be
                # paired with their statuses: they are recorded with none, but the last.
                __devtrace_sts[__devtrace_n]=$__devtrace_status __devtrace_starts[__devtrace_n]=$__devtrace_end
                __devtrace_saved=$((__devtrace_seen - __devtrace_hist)) __devtrace_k=0 __devtrace_form=fc
                [[ ! -o posix ]] || __devtrace_form=fc-posix  # `fc -l` prints no space after the tab
                while [[ $__devtrace_k -lt $__devtrace_saved ]]; do
                    __devtrace_fc=$((__devtrace_k - __devtrace_saved)) __devtrace_i=$((__devtrace_n - __devtrace_saved + __devtrace_k)) \
                        __devtrace_wstatus=- __devtrace_wstart=- __devtrace_wtook=-
                    if [[ $__devtrace_saved -eq $__devtrace_n || $__devtrace_fc -eq -1 ]]; then
                        __devtrace_wstatus=${__devtrace_sts[__devtrace_i + 1]-}
                        __devtrace_x=${__devtrace_starts[__devtrace_i]-} __devtrace_y=${__devtrace_starts[__devtrace_i + 1]-}
                        if [[ -n $__devtrace_x && $__devtrace_x != *[!0-9]* && -n $__devtrace_y && $__devtrace_y != *[!0-9]* ]]; then
                            __devtrace_wstart=$__devtrace_x __devtrace_wtook=$((__devtrace_y - __devtrace_x))
                        fi
                    fi
                    eval "$__devtrace_write"
                    __devtrace_k=$((__devtrace_k + 1))
                done
            fi
            if [[ -n $__devtrace_ran && $__devtrace_seen -gt $__devtrace_hist && -n $__devtrace_dups ]]; then
                __devtrace_um=
                { IFS=$'"' \t'"' read -r __devtrace_um && IFS=$'"' \t'"' read -r __devtrace_um __devtrace_um; } </proc/$$/status || :
                builtin umask 077
                eval "$__devtrace_dedup"
                [[ -z $__devtrace_um ]] || builtin umask "$__devtrace_um"
            fi
            __devtrace_ran= __devtrace_hist=${HISTCMD-0} __devtrace_n=0 __devtrace_sts=() __devtrace_starts=()
        fi
        # The user'"'"'s HISTCONTROL (a new value since the last prompt is the user'"'"'s), without
        # ignoredups and erasedups while the next line is read; worked out again only when
        # HISTCONTROL has changed since the last prompt.
        if [[ :${HISTCONTROL-} != "$__devtrace_hc_seen" ]]; then
            [[ ${HISTCONTROL-} == "$__devtrace_hc_set" ]] || __devtrace_hc_user=${HISTCONTROL-}
            __devtrace_x=:$__devtrace_hc_user:
            __devtrace_x=${__devtrace_x//:ignoreboth:/:ignorespace:}
            __devtrace_x=${__devtrace_x//:ignoredups:/:} __devtrace_dups=
            __devtrace_x=${__devtrace_x//:ignoredups:/:}
            __devtrace_x=${__devtrace_x//:erasedups:/:}
            __devtrace_x=${__devtrace_x//:erasedups:/:}
            [[ $__devtrace_x == ":$__devtrace_hc_user:" ]] || __devtrace_dups=1
            if [[ -n $__devtrace_dups ]]; then
                __devtrace_x=${__devtrace_x#:} && __devtrace_x=${__devtrace_x%:}
                HISTCONTROL=$__devtrace_x __devtrace_hc_set=$__devtrace_x
            fi
            __devtrace_hc_seen=:${HISTCONTROL-}
        fi
        [[ $PS0 == *__devtrace_starts* ]] || PS0=${PS0-}$__devtrace_ps0
        # bash-preexec or ble.sh loaded after this script: join their hooks from now on.
        [[ -n $__devtrace_via || -z ${bash_preexec_imported-}${__bp_imported-}${BLE_VERSION-} ]] || __devtrace_join
    '

    # The user's ignoredups and erasedups applied to the line bash saved: the entry is taken out
    # and added again with `history -s` under the user's HISTCONTROL, which bash applies.
    __devtrace_dedup='
        __devtrace_h=()
        { HISTTIMEFORMAT= builtin history 1 >"$__devtrace_store/spool/.$__devtrace_session.h" \
            && mapfile -t __devtrace_h <"$__devtrace_store/spool/.$__devtrace_session.h"; } || :
        : >"$__devtrace_store/spool/.$__devtrace_session.h" || :
        if [[ ${#__devtrace_h[@]} -gt 0 ]]; then
            __devtrace_x=${__devtrace_h[0]}
            __devtrace_x=${__devtrace_x#"${__devtrace_x%%[![:space:]]*}"}
            __devtrace_x=${__devtrace_x#"${__devtrace_x%%[!0-9]*}"}
            __devtrace_h[0]=${__devtrace_x:2}
            printf -v __devtrace_x "%s\n" "${__devtrace_h[@]}"
            builtin history -d -1 && HISTCONTROL=$__devtrace_hc_user && builtin history -s -- "${__devtrace_x%$'"'\n'"'}" || :
        fi
    '

    # The last entry of PROMPT_COMMAND: when a later `PROMPT_COMMAND=...` replaced DevTrace's
    # first entry, it records the command (its duration then unknown) and puts the entry back.
    __devtrace_guard='
        if [[ -z $__devtrace_done ]]; then
            __devtrace_end=
            eval "$__devtrace_precmd"
            __devtrace_keep=()
            for __devtrace_x in "${PROMPT_COMMAND[@]}"; do
                [[ $__devtrace_x == "$__devtrace_entry" || $__devtrace_x == "$__devtrace_last_entry" ]] || __devtrace_keep+=("$__devtrace_x")
            done
            PROMPT_COMMAND=("$__devtrace_entry" "${__devtrace_keep[@]}")
            PROMPT_COMMAND[1000000]=$__devtrace_last_entry
        fi
        __devtrace_done=
    '

    # The same code as functions, parsed once: called instead of `eval` (about 0.5 ms a prompt
    # less) unless function tracing is on, where a user's RETURN trap would fire for them.
    eval "__devtrace_write_fn() {
        $__devtrace_write
        return 0
    }
    __devtrace_dedup_fn() {
        $__devtrace_dedup
        return 0
    }"
    __devtrace_x=${__devtrace_precmd//eval \"\$__devtrace_write\"/__devtrace_write_fn}
    eval "__devtrace_precmd_fn() {
        ${__devtrace_x//eval \"\$__devtrace_dedup\"/__devtrace_dedup_fn}
        return 0
    }"

    __devtrace_write_line() {
        __devtrace_form=line __devtrace_wstatus=$1 __devtrace_wstart=$2 __devtrace_wtook=$3
        eval "$__devtrace_write"
    } 2>/dev/null

    # bash-preexec runs its precmd functions before the rest of PROMPT_COMMAND, ours included:
    # DevTrace's is put first among them, so that the others' time is not counted in the
    # command's. Whichever of the two runs first records; the other returns at once.
    __devtrace_bp_precmd() {
        __devtrace_status=$? __devtrace_end=${EPOCHREALTIME/[.,]}
        eval "$__devtrace_precmd"
        return 0
    } 2>/dev/null

    # ble.sh reads the line itself and runs PS0 and the prompt command tens of ms away from the
    # command, with HISTCMD a plain variable and bash's history out of step: its PREEXEC hook
    # gives the line and the start, POSTEXEC the status and the end.
    __devtrace_ble_preexec() {
        __devtrace_line=$1 __devtrace_ble_start=${EPOCHREALTIME/[.,]}
    }

    __devtrace_ble_postexec() {
        local status=$? end=${EPOCHREALTIME/[.,]} start=$__devtrace_ble_start
        __devtrace_ran=  # PS0 as ble.sh drew it: the prompt command has nothing left to record
        if [[ -n $start ]]; then
            __devtrace_ble_start=
            # ble.sh's own timing of the command alone (what its elapsed mark and its contrib
            # histdb show), in microseconds, when it is this command's.
            if [[ -n ${_ble_exec_time_beg-} && -n ${_ble_exec_time_ata-} \
                && $_ble_exec_time_beg$_ble_exec_time_ata != *[!0-9]* ]] && ((_ble_exec_time_beg >= start)); then
                start=$_ble_exec_time_beg end=$((_ble_exec_time_beg + _ble_exec_time_ata))
            fi
            __devtrace_write_line "$status" "$start" $((end - start))
        fi
        return "$status"
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
        return 0
    }

    __devtrace_ps0='${__devtrace_none[(__devtrace_sts[__devtrace_n]=$?)+(__devtrace_starts[__devtrace_n]=${EPOCHREALTIME/[.,]})+(__devtrace_n+=1)+(__devtrace_seen=HISTCMD)+(__devtrace_ran=1)+(__devtrace_armed=1)]-}'
    PS0=${PS0-}$__devtrace_ps0
    __devtrace_entry='{ __devtrace_status=$? __devtrace_end=${EPOCHREALTIME/[.,]}
        if [[ -o functrace || ${BASHOPTS-} == *extdebug* ]]; then eval "$__devtrace_precmd"; else __devtrace_precmd_fn; fi; } 2>/dev/null'
    __devtrace_last_entry='{ [[ -n $__devtrace_done ]] || eval "$__devtrace_guard"; __devtrace_done=; } 2>/dev/null'
    if ((BASH_VERSINFO[0] * 100 + BASH_VERSINFO[1] >= 501)); then
        # An array (bash 5.1): each entry sees the command's $? and $_, whatever ran before it.
        if [[ -n ${PROMPT_COMMAND+set} && ${PROMPT_COMMAND@a} == *a* ]]; then
            PROMPT_COMMAND=("$__devtrace_entry" "${PROMPT_COMMAND[@]}")
        elif [[ -n ${PROMPT_COMMAND-} ]]; then
            PROMPT_COMMAND=("$__devtrace_entry" "$PROMPT_COMMAND")
        else
            PROMPT_COMMAND=("$__devtrace_entry")
        fi
        PROMPT_COMMAND[1000000]=$__devtrace_last_entry
    else
        PROMPT_COMMAND='__devtrace_bp_precmd'$'\n'${PROMPT_COMMAND-}
    fi
    [[ -z ${bash_preexec_imported-}${__bp_imported-}${BLE_VERSION-} ]] || __devtrace_join
    # Hello: this shell has the hook (see devtrace.capture.hooks.sessions).
    { builtin umask 077 && command mkdir -p -m 700 "$__devtrace_store/spool" \
        && printf "DTSPOOL 1 hello bash %s %s\n\036\n" "$__devtrace_session" "$$" >"$__devtrace_store/spool/$__devtrace_session.0.rec"
      builtin umask "$__devtrace_um0"; } 2>/dev/null || :
fi
