# The FaaSr 2.x R API (the names, arguments and defaults of faasr-py 2.1.0's
# FaaSr_py/client/r_client_stubs.R), served by faasr-easypy's local backend.
#
# faasr-py's stubs POST to an RPC server on 127.0.0.1:8000, one action per host.
# Here every call is one JSON line to the action's own Python process over two
# FIFOs in the action's private folder (no TCP listener), which runs it with the
# same code as a Python function's call (function_api.FunctionContext).
# Sourced once into the warm R server; attached as "faasr_client", so user code
# finds these functions as FaaSr's sourced stubs are found.

.faasr_rpc <- function(procedure, arguments = list()) {
    channel <- .faasr_channel
    if (is.null(channel$to_py)) {
        stop(procedure, "() was called outside a FaaSr action run by faasr-easypy", call. = FALSE)
    }
    request <- jsonlite::toJSON(list(op = "call", procedure = procedure, args = arguments),
                                auto_unbox = TRUE, null = "null", digits = NA)
    writeLines(request, channel$to_py, useBytes = TRUE)
    flush(channel$to_py)
    reply <- readLines(channel$to_r, n = 1L, warn = FALSE, encoding = "UTF-8")
    if (length(reply) == 0L) {
        # The action's Python process is gone (killed, or its time limit): nothing to report to.
        parallel:::mcexit(1L)
    }
    # simplifyVector = FALSE: the shapes httr's content() gives faasr-py's stubs (lists).
    reply <- jsonlite::fromJSON(reply, simplifyVector = FALSE)
    if (!isTRUE(reply$ok)) {
        stop(procedure, ": ", reply$error, call. = FALSE)
    }
    reply$data
}

# Set by the worker for the action it runs: the two FIFO connections.
.faasr_channel <- new.env(parent = emptyenv())

faasr_log <- function(log_message) {
    if (length(log_message) > 1L) log_message <- paste(log_message, collapse = "\n")
    .faasr_rpc("faasr_log", list(log_message = log_message))
}

faasr_put_file <- function(local_file, remote_file, server_name = "", local_folder = ".", remote_folder = ".") {
    .faasr_rpc("faasr_put_file", list(local_file = local_file, remote_file = remote_file,
                                      server_name = server_name, local_folder = local_folder,
                                      remote_folder = remote_folder))
}

faasr_get_file <- function(local_file, remote_file, server_name = "", local_folder = ".", remote_folder = ".") {
    .faasr_rpc("faasr_get_file", list(local_file = local_file, remote_file = remote_file,
                                      server_name = server_name, local_folder = local_folder,
                                      remote_folder = remote_folder))
}

faasr_delete_file <- function(remote_file, server_name = "", remote_folder = "") {
    .faasr_rpc("faasr_delete_file", list(remote_file = remote_file, server_name = server_name,
                                         remote_folder = remote_folder))
}

faasr_get_folder_list <- function(server_name = "", prefix = "") {
    .faasr_rpc("faasr_get_folder_list", list(server_name = server_name, prefix = prefix))
}

faasr_get_s3_creds <- function(server_name = "") {
    .faasr_rpc("faasr_get_s3_creds", list(server_name = server_name))
}

faasr_secret <- function(secret_name) {
    if (is.null(secret_name) || identical(secret_name, "")) {
        stop("faasr_secret: secret_name cannot be empty or NULL", call. = FALSE)
    }
    .faasr_rpc("faasr_secret", list(secret_name = secret_name))
}

faasr_invocation_id <- function() {
    .faasr_rpc("faasr_invocation_id")
}

# list(max_rank = , rank = ), as faasr-py's server computes it (its R stub asks for
# the invocation ID instead, a bug: docs/LOCAL_BACKEND.md). rank_value is ignored there too.
faasr_rank <- function(rank_value = NULL) {
    .faasr_rpc("faasr_rank")
}

# Internal in FaaSr 2.x; a function that calls them ends early, as it would there.
faasr_return <- function(return_value = NULL) {
    signalCondition(structure(class = c("faasr_exit", "condition"),
                              list(message = "faasr_return", call = NULL, error = FALSE,
                                   value = return_value)))
    invisible(NULL)
}

faasr_exit <- function(message = NULL, error = TRUE, traceback = NULL) {
    signalCondition(structure(class = c("faasr_exit", "condition"),
                              list(message = if (is.null(message)) "" else as.character(message),
                                   call = NULL, error = isTRUE(error), value = NULL)))
    invisible(NULL)
}

# quit() ends FaaSr's Rscript: status 0 counts as done with no return value, any other
# status as a failure. A worker must not just exit (its action would only see it vanish).
quit <- function(save = "default", status = 0, runLast = TRUE) {
    signalCondition(structure(class = c("faasr_exit", "condition"),
                              list(message = paste0("quit(status = ", status, ")"), how = "quit",
                                   call = NULL, error = !identical(as.numeric(status), 0), value = NULL)))
    base::quit(save = "no", status = status, runLast = FALSE)  # nobody caught it: still end
}
q <- quit

# FaaSr 1.x R-package calls that FaaSr 2.x dropped or cannot serve here: each
# fails with what to use instead, rather than R's bare "could not find function".
.faasr_gone <- function(name, instead, why = "is not available in FaaSr 2.x actions") {
    force(name)
    force(instead)
    force(why)
    function(...) stop(name, "() ", why, ": ", instead, call. = FALSE)
}

# faasr-py 2.1.0 still has it, but it needs arrow, which no registry here provides.
faasr_arrow_s3_bucket <- .faasr_gone(
    "faasr_arrow_s3_bucket",
    paste("read and write objects with faasr_get_file() and faasr_put_file(), or build your own",
          "client from faasr_get_s3_creds()"),
    why = paste("cannot run on this machine: it needs the arrow package, which neither CRAN",
                "(unreachable here) nor Debian provides"))
for (.name in c("faasr_register_workflow_github_actions", "faasr_register_workflow_aws_lambda",
                "faasr_register_workflow_openwhisk", "faasr_register_workflow_slurm",
                "faasr_invoke_workflow", "faasr_set_workflow_timer", "faasr_unset_workflow_timer",
                "faasr_replay")) {
    assign(.name, .faasr_gone(.name, paste(
        "it is a FaaSr 1.x client call made from an R session, not from inside an action;",
        "register and invoke workflows with FaaSr 2.x's workflow builder, or run them here with",
        "`faasr-easypy run`")))
}
rm(.name)
