# prepare -> explode (stop() two calls deep) -> after-explode, which never runs.
prepare_r <- function(folder) {
  writeLines("ready", "state.txt")
  faasr_put_file(local_file = "state.txt", remote_file = "state.txt",
                 remote_folder = file.path(folder, faasr_invocation_id()))
  faasr_log("prepared")
}

explode_r <- function(folder) {
  faasr_log("about to fail")
  check_state(folder)
}

check_state <- function(folder) {
  stop("state in ", folder, " is not usable")
}

never_r <- function() faasr_log("this never runs")
