mkdir 'my dir'; mv job.sh 'my dir/job 1.sh'
