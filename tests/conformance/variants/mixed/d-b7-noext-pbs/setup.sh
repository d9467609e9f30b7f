mv job.sh jobfile
