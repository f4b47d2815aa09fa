# The warm R server: one R process per fork server, started on its first R
# action (r_server.py), with httr, jsonlite and the FaaSr client loaded once.
# Each R action is a fork of it (parallel's mcfork), so an action does not pay
# for a cold Rscript start (seconds on a busy machine).
#
#   Rscript server.R <folder>
#
# <folder> is private (0700) and holds `control`, a FIFO on which action
# processes write one JSON line each ({"channel": <their FIFO folder>,
# "action_pid": <pid>}; lines under PIPE_BUF never interleave), and `failed`,
# written when the server cannot start (the reason, for the action's log).
#
# A worker lives in a process group of its own. It dies with its action: the
# action's Python side kills its group when it ends, and this loop kills the
# group of every worker whose action process is gone (killed by the fork server
# for its time limit, a cancel, or by anyone). When this server is told to stop,
# or its parent (the fork server) dies, it kills all its workers and exits.

local({
    args <- commandArgs(trailingOnly = TRUE)
    folder <- args[[1L]]
    here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)[[1L]])))

    needed <- c("httr", "jsonlite")
    missing <- needed[!vapply(needed, function(p) nzchar(system.file(package = p)), TRUE)]
    if (length(missing)) {
        writeLines(paste(missing, collapse = " "), file.path(folder, "failed.tmp"))
        file.rename(file.path(folder, "failed.tmp"), file.path(folder, "failed"))
        quit(save = "no", status = 3L)
    }
    # Attached as FaaSr's entry script attaches them, so user code may use them without library().
    suppressPackageStartupMessages({
        library(httr)
        library(jsonlite)
    })
    invisible(loadNamespace("parallel"))
    invisible(loadNamespace("tools"))
    # For setsid(): the C library this process already uses, wherever the system keeps it.
    maps <- readLines("/proc/self/maps", warn = FALSE)
    libc <- unique(sub("^.* ", "", grep("/libc([.]so[.][0-9]+|-[0-9.]+[.]so)$", maps, value = TRUE)))
    dyn.load(libc[[1L]])

    client <- new.env()
    sys.source(file.path(here, "client.R"), envir = client, keep.source = FALSE)
    sys.source(file.path(here, "worker.R"), envir = client, keep.source = FALSE)
    attach(client, name = "faasr_client", warn.conflicts = FALSE)

    state_of <- function(pid) {  # the /proc state letter, or "" when the process is gone
        stat <- tryCatch(readLines(sprintf("/proc/%d/stat", pid), warn = FALSE),
                         error = function(e) "", warning = function(w) "")
        if (!length(stat) || !nzchar(stat[[1L]])) return("")
        substr(sub("^.*\\) ", "", stat[[1L]]), 1L, 1L)
    }
    alive <- function(pid) !(state_of(pid) %in% c("", "Z", "X"))
    parent_of_me <- function() {
        stat <- readLines("/proc/self/stat", warn = FALSE)[[1L]]
        as.integer(strsplit(sub("^.*\\) ", "", stat), " ")[[1L]][[2L]])
    }
    kill_group <- function(pid) {
        tools::pskill(-pid, tools::SIGKILL)
        tools::pskill(pid, tools::SIGKILL)
    }

    parent <- parent_of_me()
    control <- fifo(file.path(folder, "control"), open = "w+", blocking = FALSE)
    workers <- list()  # worker pid (as name) -> its action's pid
    stopping <- FALSE
    idle <- 0L
    repeat {
        lines <- readLines(control, n = -1L, warn = FALSE)
        for (line in lines) {
            request <- tryCatch(jsonlite::fromJSON(line), error = function(e) NULL)
            if (is.null(request)) next
            if (identical(request$op, "stop")) {
                stopping <- TRUE
                break
            }
            child <- parallel:::mcfork(estranged = TRUE)
            if (inherits(child, "masterProcess")) {
                close(control)
                .faasr_worker(request$channel)  # never returns
            }
            workers[[as.character(child$pid)]] <- as.integer(request$action_pid)
        }
        if (stopping || parent_of_me() != parent) break
        for (pid in names(workers)) {
            if (!alive(workers[[pid]]) || !alive(as.integer(pid))) {
                kill_group(as.integer(pid))
                workers[[pid]] <- NULL
            }
        }
        # Poll: 10 ms while actions arrive, up to 50 ms when idle (R cannot select on a FIFO).
        idle <- if (length(lines)) 0L else min(idle + 1L, 5L)
        Sys.sleep(0.01 * idle)
    }
    for (pid in names(workers)) kill_group(as.integer(pid))
    unlink(folder, recursive = TRUE)
    quit(save = "no", status = 0L)
})
