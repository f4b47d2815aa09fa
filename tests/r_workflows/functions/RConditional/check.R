# A conditional R action: its TRUE/FALSE return value picks the branch.
is_above <- function(value, threshold) {
  faasr_log(paste0("checking ", value, " > ", threshold))
  value > threshold
}

record_branch <- function(branch) {
  writeLines(branch, "branch.txt")
  faasr_put_file(local_file = "branch.txt", remote_file = "branch.txt",
                 remote_folder = file.path("rconditional", faasr_invocation_id()))
  faasr_log(paste("took the", branch, "branch"))
}
