mkdir -p o; echo 1 > job.sh.jid; echo 2 > o/job.sh.jid
