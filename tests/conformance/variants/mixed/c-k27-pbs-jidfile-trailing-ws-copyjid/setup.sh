mkdir o; printf '  225.srv \n' > o/job.sh.jid
