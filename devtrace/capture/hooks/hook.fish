# DevTrace: record every command of this interactive fish (devtrace hook fish | source in config.fish).
# On the prompt's path only builtins run: fish_postexec starts one detached writer that reads
# the line, its status and fish's own CMD_DURATION on its stdin. (fish has no subshell: the
# writer becomes $last_pid.)
if status is-interactive; and not set -q __devtrace_loaded; and test -z @AGENT_VARIABLES@
    set -g __devtrace_loaded 1
    # Not exported: a nested shell makes its own session.
    set -g __devtrace_session $fish_pid.(random).(random).(random)

    function __devtrace_postexec --on-event fish_postexec
        set -l devtrace_status $status
        set -l duration $CMD_DURATION
        if not set -q fish_private_mode; or test -z "$fish_private_mode"
            printf '%s 0 %s000 %s\n%s' $devtrace_status $duration $__devtrace_session $argv[1] 2>/dev/null \
                | @WRITER@ >/dev/null 2>&1 &
            disown
        end
    end
end
