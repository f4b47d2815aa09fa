# R functions for benchmarks/bench_r.py (the .py files here are for the Python benchmarks).

# Its first line says when R started running it (epoch seconds), for the dispatch figure.
stamp_r <- function() faasr_log(sprintf("t=%.6f", as.numeric(Sys.time())))

noop_r <- function(seconds = 0) {
  if (seconds > 0) Sys.sleep(seconds)
  invisible(NULL)
}
