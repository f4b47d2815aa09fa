# The fan-in: runs once, after every sum-v<n> action and count-rows, and joins their outputs.
write_report <- function(folder, columns, output) {
  folder <- file.path(folder, faasr_invocation_id())
  keys <- unlist(faasr_get_folder_list(prefix = paste0(folder, "/sums/")))
  if (length(keys) != length(columns)) stop("expected ", length(columns), " column sums, found ", length(keys))
  sums <- vapply(columns, function(column) {
    faasr_get_file(remote_folder = file.path(folder, "sums"), remote_file = paste0(column, ".txt"),
                   local_file = paste0(column, ".txt"))
    as.numeric(readLines(paste0(column, ".txt")))
  }, 0)
  faasr_get_file(remote_folder = folder, remote_file = "rows.txt", local_file = "rows.txt")
  rows <- as.integer(readLines("rows.txt", warn = FALSE))
  report <- data.frame(column = columns, sum = sums, rows = rows)
  write.table(report, file = output, sep = ",", row.names = FALSE, col.names = TRUE, quote = FALSE)
  faasr_put_file(local_file = output, remote_folder = folder, remote_file = output)
  faasr_log(paste0("report: ", length(columns), " columns, ", rows, " rows, total ",
                   format(sum(sums), scientific = FALSE)))
}
