# Two small tables, as FaaSr's tutorial makes them (FaaSr/FaaSr-tutorial create_sample_data.R).
create_sample_data <- function(folder, output1, output2) {
  e <- 1:10
  df1 <- data.frame(v1 = e, v2 = e^2, v3 = e^3)
  df2 <- data.frame(v1 = e, v2 = 2 * e, v3 = 3 * e)
  write.table(df1, file = "df1.csv", sep = ",", row.names = FALSE, col.names = TRUE)
  write.table(df2, file = "df2.csv", sep = ",", row.names = FALSE, col.names = TRUE)
  folder <- file.path(folder, faasr_invocation_id())
  faasr_put_file(local_file = "df1.csv", remote_folder = folder, remote_file = output1)
  faasr_put_file(local_file = "df2.csv", remote_folder = folder, remote_file = output2)
  faasr_log(paste0("create_sample_data: wrote ", output1, " and ", output2, " to ", folder))
}
