mkdir out; echo old > out/job.out
