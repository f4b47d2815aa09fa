# The sum of one column of input1 + input2. The fan-out is three actions with a
# `column` argument each, not ranks: faasr-py 2.1.0's R faasr_rank() returns the
# invocation ID instead of the rank (docs/FIDELITY.md), so a ranked R action
# cannot tell its rank on FaaSr today.
compute_column_sum <- function(folder, input1, input2, column) {
  folder <- file.path(folder, faasr_invocation_id())
  faasr_get_file(remote_folder = folder, remote_file = input1, local_file = "input1.csv")
  faasr_get_file(remote_folder = folder, remote_file = input2, local_file = "input2.csv")
  total <- read.table("input1.csv", sep = ",", header = TRUE) + read.table("input2.csv", sep = ",", header = TRUE)
  writeLines(format(sum(total[[column]]), scientific = FALSE), "sum.txt")
  faasr_put_file(local_file = "sum.txt", remote_folder = file.path(folder, "sums"),
                 remote_file = paste0(column, ".txt"))
  faasr_log(paste0("compute_column_sum: sum of ", column, " = ", sum(total[[column]])))
}
