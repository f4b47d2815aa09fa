# One R action, in a process forked from the warm R server (server.R).
#
# As faasr-py's r_user_func_entry.R and r_func_helper.R do: source every .R file
# of the functions folder, find FunctionName, do.call it with the Arguments (a JSON
# object, parsed as FaaSr parses it) as named arguments, in the action's own
# working directory. Unlike them, every failure is told to the action's Python
# process as one message (what went wrong, the R message, the call stack), which
# writes the [ERROR] lines, so the monitor shows FAILED with the reason.

.faasr_send <- function(message) {
    writeLines(jsonlite::toJSON(message, auto_unbox = TRUE, null = "null", digits = NA),
               .faasr_channel$to_py, useBytes = TRUE)
    flush(.faasr_channel$to_py)
}

.faasr_fail <- function(kind, message, calls = character(), ...) {
    .faasr_send(c(list(op = "error", kind = kind, message = message, calls = as.list(calls)), list(...)))
}

# The user's part of the call stack, one line per call, innermost last.
.faasr_user_calls <- function(calls) {
    heads <- vapply(calls, function(call) paste(deparse(call[[1L]]), collapse = ""), "")
    first <- match("do.call", heads)
    if (!is.na(first)) calls <- calls[-seq_len(first)]
    heads <- vapply(calls, function(call) paste(deparse(call[[1L]]), collapse = ""), "")
    cut <- match(c(".handleSimpleError", "h", ".faasr_rpc"), heads)
    cut <- suppressWarnings(min(cut, na.rm = TRUE))
    if (is.finite(cut)) calls <- calls[seq_len(cut - 1L)]
    vapply(calls, function(call) {
        text <- paste(deparse(call, width.cutoff = 200L, nlines = 3L), collapse = " ")
        if (nchar(text) > 300L) text <- paste0(substr(text, 1L, 300L), " ...")
        src <- attr(call, "srcref")
        if (!is.null(src)) {
            file <- attr(src, "srcfile")$filename
            if (!is.null(file)) text <- paste0(text, "  at ", basename(file), ":", src[[1L]])
        }
        text
    }, "")
}

.faasr_error_text <- function(e) {
    # R's own "Error in <call>: <message>", as faasr-py's r_func_helper.R logs it (as.character(e)).
    text <- sub("\n$", "", paste(as.character(e), collapse = ""))
    if (grepl("unused argument (faasr_prefix", text, fixed = TRUE)) {
        text <- paste0(text, " (FaaSr 2.x renamed faasr_get_folder_list's faasr_prefix to prefix)")
    }
    text
}

.faasr_missing_packages <- function(packages) {
    packages <- unlist(packages)
    packages[!vapply(packages, function(p) nzchar(system.file(package = p)), TRUE)]
}

.faasr_run_action <- function(job) {
    setwd(job$workdir)
    if (length(job$env)) do.call(Sys.setenv, job$env)
    console <- file(job$console, open = "a")
    sink(console)
    sink(console, type = "message")

    missing <- .faasr_missing_packages(job$cran_packages)
    if (length(missing)) {
        return(.faasr_fail("package", "FunctionCRANPackage names R packages that are not installed",
                           packages = as.list(missing), listed = TRUE))
    }

    options(keep.source = TRUE)  # file:line in call stacks
    files <- list.files(job$functions_dir, pattern = "\\.R$", recursive = TRUE, full.names = TRUE)
    for (file in files) {
        rel <- substring(file, nchar(job$functions_dir) + 2L)
        failed <- tryCatch({
            source(file, local = globalenv())
            NULL
        }, error = function(e) e)
        if (!is.null(failed)) {
            if (inherits(failed, "packageNotFoundError")) {
                return(.faasr_fail("package", .faasr_error_text(failed), packages = list(failed$package),
                                   listed = FALSE, file = rel))
            }
            return(.faasr_fail("source", .faasr_error_text(failed), file = rel))
        }
    }
    name <- job$function_name
    if (!exists(name, envir = globalenv(), mode = "function")) {
        return(.faasr_fail("missing", paste0("no R function named ", name, " in ", job$functions_dir),
                           files = as.list(substring(files, nchar(job$functions_dir) + 2L))))
    }

    arguments <- jsonlite::fromJSON(job$arguments)  # as r_user_func_entry.R parses them
    if (length(arguments) == 0L) arguments <- list()
    calls <- character()
    outcome <- tryCatch(
        withCallingHandlers(
            list(value = do.call(name, arguments, envir = globalenv())),
            error = function(e) calls <<- .faasr_user_calls(sys.calls())),
        faasr_exit = function(c) c,
        error = function(e) e)
    if (inherits(outcome, "faasr_exit")) {
        if (outcome$error) return(.faasr_fail(if (identical(outcome$how, "quit")) "quit" else "exit", outcome$message))
        # faasr_return(value) or quit(status = 0): done, with that value
        outcome <- list(value = outcome$value)
    } else if (inherits(outcome, "error")) {
        if (inherits(outcome, "packageNotFoundError")) {
            return(.faasr_fail("package", .faasr_error_text(outcome), packages = list(outcome$package),
                               listed = FALSE))
        }
        return(.faasr_fail("error", .faasr_error_text(outcome), calls))
    }
    value <- outcome$value
    # FaaSr keeps a logical return value and sends NULL for anything else.
    logical <- is.logical(value) && length(value) == 1L && !is.na(value)
    shown <- paste(deparse(value, nlines = 1L), collapse = "")
    .faasr_send(list(op = "result", value = if (logical) value else NULL,
                     shown = substr(shown, 1L, 200L)))
}

# Entry of a forked worker: never returns into the server's loop.
.faasr_worker <- function(channel) {
    status <- 1L
    tryCatch({
        .C("setsid")  # its own process group: the action's Python side kills it and all it started
        .faasr_channel$to_py <- fifo(file.path(channel, "to_py"), open = "w", blocking = TRUE)
        .faasr_send(list(op = "hello", pid = Sys.getpid()))
        .faasr_channel$to_r <- fifo(file.path(channel, "to_r"), open = "r", blocking = TRUE)
        job <- readLines(.faasr_channel$to_r, n = 1L, warn = FALSE, encoding = "UTF-8")
        if (length(job)) {
            .faasr_run_action(jsonlite::fromJSON(job, simplifyVector = FALSE))
            status <- 0L
        }
    }, error = function(e) {
        # Our own failure (not the user's): tell the action if it still listens.
        try(.faasr_fail("internal", .faasr_error_text(e)), silent = TRUE)
    })
    parallel:::mcexit(status)
}
