mkdir out; echo 1 > job.sh.jid; echo 2 > out/job.sh.jid
