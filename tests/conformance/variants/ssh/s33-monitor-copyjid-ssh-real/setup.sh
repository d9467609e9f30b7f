echo 31 > job.sh.jid.tmp
