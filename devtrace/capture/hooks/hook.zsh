# DevTrace: record every command of this interactive zsh (eval "$(devtrace hook zsh)" in ~/.zshrc).
# On the prompt's path only builtins run: preexec keeps the line and start time in shell
# variables (times in microseconds from zsh/datetime's epochtime), precmd starts one detached writer that reads them on its stdin.
if [[ -o interactive && -z ${__devtrace_loaded-} && -z @AGENT_VARIABLES@ ]]; then
    typeset -g __devtrace_loaded=1
    zmodload zsh/datetime
    # Not exported: a nested shell makes its own session.
    typeset -g __devtrace_session=$$.$epochtime[1].$epochtime[2].$RANDOM __devtrace_line= __devtrace_start=

    __devtrace_preexec() {
        __devtrace_line=$1
        (( __devtrace_start = epochtime[1] * 1000000 + epochtime[2] / 1000 ))
    }

    __devtrace_precmd() {
        local __devtrace_status=$? end=$(( epochtime[1] * 1000000 + epochtime[2] / 1000 ))
        if [[ -n $__devtrace_start ]]; then
            # In a subshell, so that $! stays the user's last background job.
            ( { print -r -- "$__devtrace_status $__devtrace_start $((end - __devtrace_start)) $__devtrace_session"
                print -rn -- "$__devtrace_line"; } 2>/dev/null | @WRITER@ >/dev/null 2>&1 & )
            __devtrace_start=
        fi
        return $__devtrace_status
    }

    autoload -Uz add-zsh-hook
    add-zsh-hook preexec __devtrace_preexec
    add-zsh-hook precmd __devtrace_precmd
fi
