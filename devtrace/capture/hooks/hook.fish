# DevTrace: record every command of this interactive fish (devtrace hook fish | source in config.fish).
# On the prompt's path only builtins run: fish_postexec appends one record (the line, its status
# and fish's own CMD_DURATION) to the store's spool, and starts the store's drainer only when none
# is alive. The record is on disk before the prompt: a terminal closed right after Enter loses
# nothing. fish has no clock builtin: the command ended when the record was written.
if status is-interactive; and not set -q __devtrace_loaded; and test -z @AGENT_VARIABLES@
    set -g __devtrace_loaded 1
    # Not exported: a nested shell makes its own session.
    set -g __devtrace_session $fish_pid.(random).(random).(random)
    set -g __devtrace_store @STORE@
    set -g __devtrace_seq 0
    set -g __devtrace_stopped
    set -g __devtrace_resumed

    # Hello: this shell has the hook (see devtrace.capture.hooks.sessions).
    begin
        set -l old_umask $umask
        set umask 0077
        command mkdir -p -m 700 $__devtrace_store/spool
        and printf 'DTSPOOL 1 hello fish %s %s\n\036\n' $__devtrace_session $fish_pid >$__devtrace_store/spool/$__devtrace_session.0.rec
        set umask $old_umask
    end 2>/dev/null

    function __devtrace_postexec --on-event fish_postexec
        set -l devtrace_status $status
        set -l duration $CMD_DURATION
        if set -q fish_private_mode; and test -n "$fish_private_mode"
            return 0
        end
        # A job stopped by Ctrl-Z has not ended (fish says status 0): not recorded now. When it
        # ends, a handler keeps its real status, which the `fg` that resumed it is recorded with
        # (fish's own $status after `fg` is 0).
        set -l resumed $__devtrace_resumed
        set -g __devtrace_resumed
        if jobs -q
            set -l pid (jobs --last --pid 2>/dev/null)[-1]
            if test -n "$pid"; and jobs --last 2>/dev/null | string match -q '*stopped*'
                and begin; not contains -- $pid $__devtrace_stopped; or string match -qr '^\s*fg\b' -- $argv[1]; end
                if not contains -- $pid $__devtrace_stopped
                    set -ga __devtrace_stopped $pid
                    function __devtrace_ended_$pid --on-process-exit $pid -V pid
                        set -g __devtrace_resumed $argv[3]
                        set -l at (contains -i -- $pid $__devtrace_stopped)
                        and set -e __devtrace_stopped[$at]
                        functions -e __devtrace_ended_$pid
                    end
                end
                return 0
            end
        end
        if test -n "$resumed"; and string match -qr '^\s*fg\b' -- $argv[1]
            set devtrace_status $resumed
        end
        set __devtrace_seq (math $__devtrace_seq + 1)
        set -l file $__devtrace_store/spool/$__devtrace_session.$__devtrace_seq.rec
        set -l old_umask $umask
        set umask 0077
        begin
            printf 'DTSPOOL 1 shell fish line %s - %s000 %s %s\n%s\0%s\036\n' $devtrace_status $duration \
                $__devtrace_session $fish_pid $PWD $argv[1] >$file
            or begin
                command mkdir -p -m 700 $__devtrace_store/spool
                and printf 'DTSPOOL 1 shell fish line %s - %s000 %s %s\n%s\0%s\036\n' $devtrace_status $duration \
                    $__devtrace_session $fish_pid $PWD $argv[1] >$file
            end
        end 2>/dev/null
        set umask $old_umask
        set -l pid
        set -l comm
        # fish warns on stderr about a redirection from a missing file, whatever `2>` says:
        # each file is looked at first (none after the drainer's idle exit, or a dead pid).
        if test -r $__devtrace_store/drainer.pid
            read pid <$__devtrace_store/drainer.pid
            and string match -qr '^[0-9]+$' -- $pid
            and test -r /proc/$pid/comm
            and read comm </proc/$pid/comm
        end 2>/dev/null
        if test "$comm" != devtrace-drain
            @DRAINER@ </dev/null >/dev/null 2>&1 &
            disown 2>/dev/null
        end
        return 0
    end
end
