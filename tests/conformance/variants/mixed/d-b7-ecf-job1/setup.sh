mv job.sh t.job1
