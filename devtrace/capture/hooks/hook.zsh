# DevTrace: record every command of this interactive zsh (eval "$(devtrace hook zsh)" in ~/.zshrc).
# On the prompt's path only builtins run: preexec keeps the line and the start time, precmd (the
# first precmd function, so that no other prompt work is timed) appends one record to the
# store's spool and starts the store's drainer only when none is alive. Each function runs under
# `emulate -L zsh` (KSH_ARRAYS, ERR_EXIT, XTRACE, NOUNSET... are the user's, not its own) and
# returns 0.
if [[ -o interactive && -z ${__devtrace_loaded-} && -z @AGENT_VARIABLES@ ]]; then
    typeset -g __devtrace_loaded=1
    zmodload zsh/datetime 2>/dev/null
    # Not exported: a nested shell makes its own session.
    typeset -g __devtrace_session=$$.${EPOCHREALTIME/[.,]/}.$RANDOM __devtrace_line= __devtrace_start= __devtrace_seq=0 __devtrace_spawned=0
    typeset -g __devtrace_store=@STORE@

    __devtrace_now() {  # microseconds since the epoch, or nothing (zsh/datetime unloaded, EPOCHREALTIME unset)
        REPLY=
        local now=${EPOCHREALTIME-}
        [[ $now == <->[.,]<-> ]] || return 0
        REPLY=${now%[.,]*}${${now#*[.,]}[1,6]}
        [[ ${#REPLY} -ge 16 ]] || REPLY=
    }

    __devtrace_preexec() {
        {
            emulate -L zsh
            local REPLY
            __devtrace_line=$1
            __devtrace_now
            __devtrace_start=${REPLY:--}
            return 0
        } 2>/dev/null
    }

    __devtrace_precmd() {
        {
            local __devtrace_status=$?
            emulate -L zsh
            local REPLY IFS=$' \t\n' start=$__devtrace_start took=- um= pid= comm= file
            __devtrace_now
            [[ -n $start ]] || return 0
            __devtrace_start=
            # A job stopped by Ctrl-Z (status 128 + STOP, TSTP, TTIN or TTOU, a job left) has
            # not ended: the `fg` that resumes it ends with its real status and is recorded.
            [[ $__devtrace_status == (14[789]|150) && ${#jobstates} -gt 0 ]] && return 0
            if [[ $start == <-> && -n $REPLY ]]; then took=$(( REPLY - start )); else start=-; fi
            # This function first among precmd functions from the next prompt on, if another
            # framework put itself before it (the duration of this command is then unknown).
            if [[ ${precmd_functions[1]-} != __devtrace_precmd ]]; then
                precmd_functions=(__devtrace_precmd ${precmd_functions:#__devtrace_precmd})
                took=-
            fi
            (( ++__devtrace_seq ))
            file=$__devtrace_store/spool/$__devtrace_session.$__devtrace_seq.rec
            { read -r um && read -r um um } </proc/$$/status || :
            umask 077
            local record="DTSPOOL 1 shell zsh line $__devtrace_status $start $took $__devtrace_session $$"$'\n'"$PWD"$'\0'"$__devtrace_line"$'\036\n'
            if ! print -rn -- $record >$file; then
                if ! { command mkdir -p -m 700 $__devtrace_store/spool && print -rn -- $record >$file }; then
                    # Not even the spool can be written (a read-only mount, a full disk): said once.
                    [[ -n $__devtrace_said ]] || print -r -- "devtrace: commands are not recorded: cannot write to $__devtrace_store/spool"
                    typeset -g __devtrace_said=1
                fi
            fi
            [[ -z $um ]] || umask $um
            { read -r pid <$__devtrace_store/drainer.pid && read -r comm </proc/$pid/comm } || :
            # The drainer, started in a subshell so that $! stays the user's last background job.
            if [[ $comm != devtrace-drain ]]; then
                # None alive, and none started by this shell in the last 2 s (a drainer starting
                # up has not written its pid yet: a burst of commands must not start one each).
                local now=${EPOCHSECONDS:-}
                if [[ $now != <-> || $now -ge $(( __devtrace_spawned + 2 )) ]]; then
                    typeset -g __devtrace_spawned=${now:-0}
                    ( @DRAINER@ </dev/null >/dev/null 2>&1 & )
                fi
                # A store the drainer found damaged is not written to: said once per shell.
                local checked verdict
                if [[ -z $__devtrace_said ]] && read -r checked verdict <$__devtrace_store/health \
                    && [[ -n $verdict && $verdict != ok ]]; then
                    print -r -- "devtrace: commands are not recorded: the store at $__devtrace_store is damaged ($verdict); see devtrace doctor"
                    typeset -g __devtrace_said=1
                fi
            fi
            return 0
        } 2>/dev/null
    }

    autoload -Uz add-zsh-hook
    add-zsh-hook preexec __devtrace_preexec
    (( ${+precmd_functions} )) || typeset -ga precmd_functions
    precmd_functions=(__devtrace_precmd ${precmd_functions:#__devtrace_precmd})
    # Hello: this shell has the hook (see devtrace.capture.hooks.sessions).
    () {
        emulate -L zsh
        local um=$(umask)
        umask 077
        command mkdir -p -m 700 $__devtrace_store/spool 2>/dev/null && \
            print -rn -- "DTSPOOL 1 hello zsh $__devtrace_session $$"$'\n\036\n' >$__devtrace_store/spool/$__devtrace_session.0.rec 2>/dev/null
        umask $um
        return 0
    }
fi
