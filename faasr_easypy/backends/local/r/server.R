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
# action's Python side kills its group when it ends, and when the fork server
# reaps an R action's process (finished, or killed for its time limit, a cancel,
# or by anyone) it says `{"op": "ended", "action_pid": N}` here, and this loop
# kills that action's worker group. When this server is told to stop, or the
# fork server is gone (EOF on the FIFO), it kills all its workers and exits.

local({
    args <- commandArgs(trailingOnly = TRUE)
    folder <- args[[1L]]
    here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)[[1L]])))

    needed <- c("httr", "jsonlite")
    missing <- needed[!vapply(needed, function(p) nzchar(system.file(package = p)), TRUE)]
    if (length(missing)) {
        writeLines(paste(missing, collapse = " "), file.path(folder, "failed.tmp"))
        file.rename(file.path(folder, "failed.tmp"), file.path(folder, "failed"))
        base::quit(save = "no", status = 3L)
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

    # Pay here, once, for what every worker would otherwise do first: lazy-loaded code of
    # jsonlite and of the sourcing path is forced, and the heap is collected, so forks start lean.
    warm <- tempfile(fileext = ".R")
    writeLines("warm_up <- function(x = 1) x", warm)
    local({
        options(keep.source = TRUE)
        source(warm, local = new.env())
        options(keep.source = FALSE)
        jsonlite::fromJSON(jsonlite::toJSON(list(op = "warm", args = list(a = 1, b = "x"), n = NULL),
                                            auto_unbox = TRUE, null = "null", digits = NA),
                           simplifyVector = FALSE)
        jsonlite::fromJSON('{"a": [1, 2], "b": {"c": "d"}}')
        deparse(quote(f(x = 1)), width.cutoff = 200L, nlines = 3L)
        .faasr_user_calls(sys.calls())
    })
    unlink(warm)
    invisible(gc(full = TRUE))

    kill_group <- function(pid) {
        tools::pskill(-pid, tools::SIGKILL)
        tools::pskill(pid, tools::SIGKILL)
    }

    # Blocking reads: an idle server costs no CPU, and a request is seen at once. The fork
    # server holds the FIFO open for writing as long as it lives, so EOF means it is gone.
    control <- fifo(file.path(folder, "control"), open = "r", blocking = TRUE)
    workers <- list()  # its action's pid (as name) -> worker pid
    repeat {
        line <- readLines(control, n = 1L, warn = FALSE)
        if (!length(line)) break
        request <- tryCatch(jsonlite::fromJSON(line), error = function(e) NULL)
        if (is.null(request)) next
        action <- as.character(request$action_pid)
        if (identical(request$op, "stop")) break
        if (identical(request$op, "ended")) {
            # The fork server reaped this action process: its worker must not outlive it.
            if (!is.null(workers[[action]])) kill_group(workers[[action]])
            workers[[action]] <- NULL
            next
        }
        child <- parallel:::mcfork(estranged = TRUE)
        if (inherits(child, "masterProcess")) {
            close(control)
            .faasr_worker(request$channel)  # never returns
        }
        workers[[action]] <- child$pid
    }
    for (pid in workers) kill_group(pid)
    unlink(folder, recursive = TRUE)
    base::quit(save = "no", status = 0L)
})
